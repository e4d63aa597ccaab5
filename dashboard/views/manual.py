"""The manual execution page: a tester works through the case's steps and records each result.

Each form posts to executions.services.manual.execution_record_manual_step (the same service the API
calls); the step then streams to everyone watching like any other step, and the service completes
the run when the last step is in.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse

from catalog import access
from catalog.models import CaseType
from dashboard.forms import ManualStepForm
from dashboard.views.common import execution_for, run_service
from executions.models import ExecutionStatus
from executions.services.manual import execution_record_manual_step
from executions.traces import trace_of, trace_steps


@login_required
def manual_page(request, execution_id: int):
    # A POST records a step: the tester role is checked before anything else is looked at.
    needed = access.RUN if request.method == "POST" else access.READ
    execution = execution_for(request.user, execution_id, needed)
    if execution.test_case is None or execution.test_case.type != CaseType.MANUAL:
        messages.info(request, "Only executions of manual cases are recorded by hand.")
        return redirect(reverse("dashboard:execution", args=[execution.pk]))
    failed_form = None
    if request.method == "POST":
        form = ManualStepForm(request.POST, request.FILES)
        if form.is_valid():
            return _record(request, execution, form.cleaned_data)
        failed_form = form
    recorded = {s["order"]: s for s in trace_steps(trace_of(execution))}
    steps = []
    for order, step in enumerate(execution.test_case.steps, start=1):
        # "Record again" starts from what was recorded, so correcting one word keeps the rest.
        before = recorded.get(order) or {}
        initial = {key: before.get(key, "") for key in ("status", "actual", "note")}
        form = ManualStepForm(
            initial={"order": order, "attempt": execution.attempt_count, **initial},
            auto_id=f"s{order}_%s",
        )
        if failed_form is not None and failed_form.data.get("order") == str(order):
            form = failed_form
        steps.append({"order": order, "step": step, "recorded": recorded.get(order), "form": form})
    context = {
        "execution": execution,
        "steps": steps,
        "recording_open": execution.status == ExecutionStatus.AWAITING_INPUT,
        "can_run": access.has_role(request.user, execution.project_id, access.RUN),
    }
    return render(request, "dashboard/manual.html", context)


def _record(request, execution, data: dict):
    page = reverse("dashboard:execution-manual", args=[execution.pk])
    _, refused = run_service(
        request,
        lambda: execution_record_manual_step(
            execution.pk,
            data["order"],
            status=data["status"],
            actual=data["actual"],
            note=data["note"],
            attachment=data["attachment"],
            attempt=data["attempt"],
            actor=request.user,
        ),
        success=f"Step {data['order']} recorded.",
        back=page,
    )
    return refused or redirect(page)
