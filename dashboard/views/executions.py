"""One execution: the live page, its refreshable panel, and the cancel and re-run buttons.

The page renders what has happened so far and the seq of the last event it includes; the browser
opens `ws/executions/<id>/?after=<seq>` and applies each newer event (static/dashboard/live.js).
Buttons post to views that call the same lifecycle services as the API and the admin.
"""

from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST, require_safe

from catalog import access
from dashboard import selectors
from dashboard.forms import RerunForm
from dashboard.views.common import admin_url, execution_for, run_service
from executions.models import TERMINAL, Execution, Trigger
from executions.services import people
from executions.traces import trace_of, trace_steps


def _execution_context(request, execution_id: int) -> dict:
    # The seq is read before the execution and its steps: a step committed in between is then both
    # on the page and sent again over the socket (the page replaces a step by its order), never on
    # neither.
    seq = Execution.objects.filter(pk=execution_id).values_list("event_seq", flat=True).first()
    execution = execution_for(request.user, execution_id)
    # A reported run is a suite run without children: its results are the steps of its trace.
    reported = execution.trigger == Trigger.REPORTED
    by_case = execution.is_suite_run and not reported
    steps = [] if by_case else trace_steps(trace_of(execution))
    summary = execution.summary or {}
    total = summary.get("steps_total") or summary.get("children") or 0
    done = summary.get("steps_done", 0)
    children = selectors.suite_children(execution) if by_case else []
    if by_case:
        done = sum(1 for c in children if c.status in TERMINAL)
    can_run = access.has_role(request.user, execution.project_id, access.RUN)
    return {
        "execution": execution,
        "after_seq": seq,
        "steps": steps,
        "by_case": by_case,
        "reported": reported,
        "children": children,
        "attempts": list(execution.attempts.order_by("-number")),
        "events": selectors.execution_events(execution),
        "progress": {"done": done, "total": total, "percent": _percent(done, total)},
        "can_run": can_run,
        "can_cancel": can_run and not execution.is_terminal,
        # A child of a suite run that is still going is re-run with its suite, not alone.
        "can_rerun": can_run
        and not reported  # its tests ran in CI: re-run the CI job
        and execution.is_terminal
        and (execution.parent is None or execution.parent.is_terminal),
        "is_terminal": execution.is_terminal,
        "admin_url": admin_url(request.user, execution),
    }


def _percent(done: int, total: int) -> int:
    return min(100, round(100 * done / total)) if total else 0


@login_required
@require_safe
def execution_detail(request, execution_id: int):
    return render(request, "dashboard/execution.html", _execution_context(request, execution_id))


@login_required
@require_safe
def execution_panel(request, execution_id: int):
    """The part of the page that changes, for the browser to swap in after an event."""
    context = _execution_context(request, execution_id)
    return render(request, "dashboard/_execution_panel.html", context)


@login_required
@require_POST
def execution_cancel(request, execution_id: int):
    execution = execution_for(request.user, execution_id, access.RUN)
    back = reverse("dashboard:execution", args=[execution.pk])
    _, refused = run_service(
        request,
        lambda: people.execution_cancel(execution.pk, actor=request.user),
        success="Cancel requested.",
        back=back,
    )
    return refused or redirect(back)


@login_required
@require_POST
def execution_rerun(request, execution_id: int):
    execution = execution_for(request.user, execution_id, access.RUN)
    back = reverse("dashboard:execution", args=[execution.pk])
    form = RerunForm(request.POST)
    only_failed = form.is_valid() and form.cleaned_data["only_failed"]
    _, refused = run_service(
        request,
        lambda: people.execution_rerun(execution.pk, actor=request.user, only_failed=only_failed),
        success="Queued again as a new attempt.",
        back=back,
    )
    return refused or redirect(back)
