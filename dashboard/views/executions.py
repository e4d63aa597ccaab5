"""One execution: the live page, its refreshable panel, and the cancel and re-run buttons.

The page renders what has happened so far and the seq of the last event it includes; the browser
opens `ws/executions/<id>/?after=<seq>` and applies each newer event (static/dashboard/live.js).
Buttons post to views that call the same lifecycle services as the API and the admin.
"""

from collections import Counter

from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST, require_safe

from catalog import access
from catalog.models import CaseType
from dashboard import selectors
from dashboard.forms import RerunForm
from dashboard.views.common import admin_url, execution_for, run_service
from executions.models import Execution, Trigger
from executions.services import people
from executions.services.suites import FAILING
from executions.traces import trace_of, trace_steps
from results.run_refs import EXECUTION, previous_comparison_url
from results.runs import RunRef
from results.summaries import run_summary


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
    manual = execution.test_case is not None and execution.test_case.type == CaseType.MANUAL
    if manual:
        steps = selectors.manual_step_rows(execution.test_case, steps)
    children = selectors.suite_children(execution) if by_case else []
    if by_case:
        # The suite's bar counts the children this page lists (executions.progress).
        execution.child_statuses = dict(Counter(c.status for c in children))
    attempts = list(execution.attempts.order_by("-number"))
    can_run = access.has_role(request.user, execution.project_id, access.RUN)
    return {
        "execution": execution,
        "after_seq": seq,
        "steps": steps,
        "manual": manual,
        "by_case": by_case,
        "reported": reported,
        "children": children,
        "failing": FAILING,
        "left_out": (execution.summary or {}).get("left_out", []),
        "attempts": attempts,
        "attempts_total": _attempts_total(attempts),
        "events": selectors.execution_events(execution),
        "can_run": can_run,
        "can_cancel": can_run and not execution.is_terminal,
        # A child of a suite run that is still going is re-run with its suite, not alone.
        "can_rerun": can_run
        and not reported  # its tests ran in CI: re-run the CI job
        and execution.is_terminal
        and (execution.parent is None or execution.parent.is_terminal),
        "is_terminal": execution.is_terminal,
        "admin_url": admin_url(request.user, execution),
        "compare_url": previous_comparison_url(EXECUTION, execution.pk)
        if execution.is_terminal and execution.parent_id is None
        else "",
        # What matters first: new failures, regressions, fixed, known (results.summaries).
        "matters": run_summary(RunRef.of_execution(execution)).get("what_matters")
        if execution.parent_id is None
        else None,
    }


def _attempts_total(attempts) -> float | None:
    """The time of all attempts together, shown (labelled so) only when there were several: the
    execution's own duration is its latest attempt's."""
    times = [a.duration_seconds for a in attempts if a.duration_seconds is not None]
    return sum(times) if len(attempts) > 1 and times else None


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
