"""Suite runs, and the two paths they share with single executions: cancel and re-run.

A suite run (parent) runs while its children run; it is cancelled, re-run and timed out as a
whole, and rolls up when its last child ends. Cancelling and re-running are written once, here,
because a suite run applies them to its children: `cancel` and `rerun` are what
executions.services.people calls for one execution and what a suite run calls for each child.

The caller holds the executions it passes locked (transitions.lock_with_parent); children are
locked here, after their parent, which is the one lock order.
"""

from datetime import timedelta

from django.utils import timezone
from django_fsm import can_proceed

from catalog.models import CaseOrigin, CaseStatus, TestSuite
from executions.errors import InvalidTransition, NotRunnable
from executions.models import (
    ACTIVE,
    TERMINAL,
    Attempt,
    AttemptReason,
    Execution,
    ExecutionStatus,
    Trigger,
)
from executions.services.lifecycle import locked
from executions.services.transitions import insert_new, transition

S = ExecutionStatus
# Failing outcomes that end a fail-fast suite and that count against a suite's result.
FAILING = (S.FAILED, S.ERROR, S.TIMED_OUT)


def cancel(execution: Execution, *, reason: str, actor) -> None:
    """The cancel path. Pending or queued: cancelled at once. Running: cancelling, and its
    worker stops at the next step boundary (killing what it started) and confirms. Awaiting
    input: cancelled, as there is no worker to confirm. A suite run cancels its active children
    and becomes cancelled when the last one has stopped. Already cancelling: nothing to do.

    Raises InvalidTransition for a finished execution."""
    if execution.status == S.CANCELLING:
        return
    if can_proceed(execution.cancel):
        transition(
            execution,
            execution.cancel,
            {"reason": reason, "now": timezone.now()},
            actor=actor,
            reason=reason,
            close_attempt=S.CANCELLED,
        )
    elif can_proceed(execution.request_cancel):
        transition(
            execution, execution.request_cancel, {"reason": reason}, actor=actor, reason=reason
        )
    else:
        raise InvalidTransition(
            f"Execution #{execution.pk} is {execution.status}; nothing to cancel."
        )
    if execution.is_suite_run:
        cancel_children(execution, reason=f"suite run cancelled: {reason}", actor=actor)
    elif execution.status == S.CANCELLING and not execution.worker:
        confirm_cancel(execution, actor_label="")


def confirm_cancel(execution: Execution, *, actor_label: str) -> None:
    """cancelling -> cancelled: its worker stopped, or it had none to stop."""
    transition(
        execution,
        execution.confirm_cancel,
        {"now": timezone.now()},
        actor_label=actor_label,
        reason=execution.status_reason,
        close_attempt=S.CANCELLED,
    )


def cancel_children(parent: Execution, *, reason: str, actor) -> None:
    """Cancel the active children of a suite run, oldest first; a cancelling suite run becomes
    cancelled here when none of them is left running."""
    for child_id in (
        parent.children.filter(status__in=ACTIVE).order_by("id").values_list("id", flat=True)
    ):
        child = locked(child_id)
        if child.status in ACTIVE:  # ended before its lock was ours
            cancel(child, reason=reason, actor=actor)
    if parent.status == S.CANCELLING and not parent.children.filter(status__in=ACTIVE).exists():
        _roll_up(parent)


def rerun(execution: Execution, *, actor, only_failed: bool, label: str) -> None:
    """A new attempt of a finished execution, queued. A suite run queues its children again
    (with `only_failed`, only those that did not pass).

    Raises InvalidTransition while the execution is active, or when `only_failed` finds
    nothing that failed."""
    if execution.status not in TERMINAL:
        raise InvalidTransition(
            f"Execution #{execution.pk} is {execution.status}; it is not finished."
        )
    if only_failed and not execution.is_suite_run and execution.status == S.PASSED:
        raise InvalidTransition(f"Execution #{execution.pk} passed; nothing failed to re-run.")
    if (
        only_failed
        and execution.is_suite_run
        and not execution.children.filter(status__in=(*FAILING, S.CANCELLED)).exists()
    ):
        raise InvalidTransition(f"Suite run #{execution.pk} has no failed children to re-run.")
    transition(
        execution,
        execution.rerun,
        {"now": timezone.now(), "only_failed": only_failed},
        actor=actor,
        reason=label,
        new_attempt=AttemptReason.RERUN,
    )
    if execution.is_suite_run:
        fan_out(execution, actor=actor)


def fan_out(parent: Execution, *, actor=None) -> None:
    """queued -> running for a suite run: one queued child per runnable item, or, when it ran
    before, its children again (for a re-run of failed children only, those that did not pass).

    Raises NotRunnable when the suite has nothing to run."""
    now = timezone.now()
    children = list(parent.children.all())
    for child in children:
        if not parent.only_failed or child.status in (*FAILING, S.CANCELLED):
            rerun(locked(child.pk), actor=actor, only_failed=False, label="suite re-run")
    # What the run leaves out stays what it left out when it first fanned out (a re-run runs the
    # same children).
    left_out = (parent.summary or {}).get("left_out", [])
    if not children:
        items = list(_suite_items(parent.test_suite))
        left_out = left_out_items(parent.test_suite)
        if not items:
            raise NotRunnable(
                "The suite has no runnable items" + _naming(left_out) + ".", "suite_empty"
            )
        for item in items:
            insert_new(
                _child(parent, item, now), actor=actor, reason=f"part of suite run #{parent.pk}"
            )
    parent.summary = {"children": parent.children.count()}
    if left_out:
        parent.summary["left_out"] = left_out
    transition(
        parent,
        parent.start,
        {"worker": "", "now": now, "deadline": now + timedelta(seconds=parent.timeout_seconds)},
        actor=actor,
        reason="children queued",
        fields=("summary",),
    )
    Attempt.objects.filter(execution=parent, number=parent.attempt_count).update(started_at=now)


def _suite_items(suite: TestSuite):
    return (
        suite.items.filter(skip=False)
        .exclude(case__status=CaseStatus.DEPRECATED)
        .filter(case__origin=CaseOrigin.AUTHORED)  # reported tests have nothing to run here
        .select_related("case")
        .order_by("order", "id")
    )


def left_out_items(suite: TestSuite) -> list[dict]:
    """The items of a suite that a run of it leaves out, in order, and why: [{"case": key, "why":
    "skipped" | "deprecated"}]. Kept in the suite run's summary, so its page, the API and
    `manage.py run` say what did not run."""
    items = suite.items.select_related("case").order_by("order", "id")
    return [
        {"case": item.case.key, "why": "skipped" if item.skip else "deprecated"}
        for item in items
        if item.skip or item.case.status == CaseStatus.DEPRECATED
    ]


def _naming(left_out: list[dict]) -> str:
    if not left_out:
        return ""
    return ": left out " + ", ".join(f"{i['case']} ({i['why']})" for i in left_out)


def _child(parent: Execution, item, now) -> Execution:
    return Execution(
        project_id=parent.project_id,
        test_case=item.case,
        parent=parent,
        status=S.QUEUED,
        priority=parent.priority,
        trigger=Trigger.SUITE,
        triggered_by=parent.triggered_by,
        parameters={**item.case.parameters, **parent.parameters},
        environment=parent.environment,
        revision=parent.revision,
        branch=parent.branch,
        labels=parent.labels,
        created_at=now,
        queued_at=now,
        timeout_seconds=parent.timeout_seconds,
        step_timeout_seconds=parent.step_timeout_seconds,
        max_retries=parent.max_retries,
        retry_backoff_seconds=parent.retry_backoff_seconds,
    )


def after_change(execution: Execution) -> None:
    """What a change of `execution` means for its suite run, in the same transaction: a child
    that ended may stop a fail-fast suite run, and the last one to end rolls it up."""
    if execution.parent_id and execution.is_terminal:
        _child_finished(execution)


def _child_finished(child: Execution) -> None:
    """Fail-fast and the suite rollup. The parent row is locked (see lock_with_parent), so two
    children finishing at the same instant are serialized here: exactly one sees no sibling still
    active and rolls the suite up."""
    parent = Execution.objects.get(pk=child.parent_id)  # already locked by this transaction
    if parent.is_terminal:
        return
    quarantined = child.test_case.quarantined if child.test_case_id else False
    if (
        parent.fail_fast
        and child.status in FAILING
        and not quarantined
        and parent.status == S.RUNNING
    ):
        cancel_children(parent, reason=f"fail-fast: child #{child.pk} {child.status}", actor=None)
    if parent.children.filter(status__in=ACTIVE).exists():
        return
    _roll_up(parent)


def _roll_up(parent: Execution) -> None:
    """End a suite run whose children have all ended: cancelled if it was being cancelled,
    otherwise failed, errored or passed by what its (not quarantined) children did."""
    children = list(parent.children.select_related("test_case"))
    counts: dict[str, int] = {}
    for c in children:
        counts[c.status] = counts.get(c.status, 0) + 1
    parent.summary = {**parent.summary, "children": len(children), "counts": counts}
    if parent.status == S.CANCELLING:
        change, arguments, outcome = parent.confirm_cancel, {}, S.CANCELLED
    else:
        outcome, reason = _verdict(children)
        change, arguments = parent.finish, {"outcome": outcome, "reason": reason}
    transition(
        parent,
        change,
        {**arguments, "now": timezone.now()},
        actor_label="suite rollup",
        reason=arguments.get("reason", parent.status_reason),
        close_attempt=outcome,
        fields=("summary",),
    )


def _verdict(children: list[Execution]) -> tuple[str, str]:
    counted = [c for c in children if not (c.test_case and c.test_case.quarantined)]
    failed = [c for c in counted if c.status in (S.FAILED, S.TIMED_OUT)]
    broken = [c for c in counted if c.status in (S.ERROR, S.CANCELLED)]
    if failed:
        return S.FAILED, f"{len(failed)} of {len(children)} cases failed"
    if broken:
        return S.ERROR, f"{len(broken)} of {len(children)} cases errored or were cancelled"
    return S.PASSED, f"{len(children)} cases passed"
