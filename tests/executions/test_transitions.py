"""Every allowed and every forbidden transition of the execution state machine."""

import pytest
from django.utils import timezone
from django_fsm import TransitionNotAllowed, can_proceed

from executions.models import Execution, ExecutionStatus

S = ExecutionStatus
NOW = timezone.now()

# transition name -> (kwargs, the source states it accepts)
TRANSITIONS = {
    "release": ({"now": NOW}, {S.PENDING}),
    "start": ({"worker": "w", "now": NOW, "deadline": NOW}, {S.QUEUED}),
    "await_input": ({"deadline": NOW}, {S.RUNNING}),
    "finish": ({"outcome": S.PASSED, "reason": "", "now": NOW}, {S.RUNNING, S.AWAITING_INPUT}),
    "cancel": ({"reason": "", "now": NOW}, {S.PENDING, S.QUEUED}),
    "request_cancel": ({"reason": ""}, {S.RUNNING, S.AWAITING_INPUT}),
    "confirm_cancel": ({"now": NOW}, {S.CANCELLING}),
    "time_out": ({"reason": "", "now": NOW}, {S.RUNNING, S.CANCELLING, S.AWAITING_INPUT}),
    "requeue": ({"reason": "", "now": NOW}, {S.RUNNING}),
    "fail_lost": ({"reason": "", "now": NOW}, {S.RUNNING, S.CANCELLING}),
    "rerun": (
        {"now": NOW},
        {S.PASSED, S.FAILED, S.ERROR, S.CANCELLED, S.TIMED_OUT, S.INTERRUPTED},
    ),
    "interrupt": ({"reason": "", "now": NOW}, {S.RUNNING}),
}
CASES = [(name, status) for name in TRANSITIONS for status in S.values]


@pytest.mark.parametrize(("name", "status"), CASES)
def test_transition_allowed_exactly_from_its_sources(name, status):
    kwargs, sources = TRANSITIONS[name]
    execution = Execution(status=status, timeout_seconds=60)
    method = getattr(execution, name)

    if status in sources:
        assert can_proceed(method)
        method(**kwargs)
        assert execution.status != status or (name == "rerun" and status == S.QUEUED)
    else:
        assert not can_proceed(method)
        with pytest.raises(TransitionNotAllowed):
            method(**kwargs)
        assert execution.status == status


def test_finish_target_is_the_outcome():
    for outcome in (S.PASSED, S.FAILED, S.ERROR):
        execution = Execution(status=S.RUNNING, timeout_seconds=60)
        execution.finish(outcome=outcome, reason="", now=NOW)
        assert execution.status == outcome


def test_status_cannot_be_assigned_by_hand():
    execution = Execution(status=S.QUEUED, timeout_seconds=60)
    with pytest.raises(AttributeError):
        execution.status = S.PASSED


def filled(status: str) -> Execution:
    """An execution in `status` whose every lifecycle column holds a value a transition could
    overwrite, so a change to any of them shows."""
    earlier = NOW.replace(year=NOW.year - 1)
    return Execution(
        status=status,
        timeout_seconds=60,
        not_before=earlier,
        queued_at=earlier,
        started_at=earlier,
        finished_at=earlier,
        deadline_at=earlier,
        heartbeat_at=earlier,
        worker="earlier",
        status_reason="earlier",
        summary={"steps_total": 1},
        only_failed=True,
        rolled_up=True,
    )


def values(execution: Execution) -> dict:
    return {f.attname: getattr(execution, f.attname) for f in Execution._meta.concrete_fields}


@pytest.mark.parametrize(
    ("name", "status"), [(name, status) for name, status in CASES if status in TRANSITIONS[name][1]]
)
def test_a_transition_changes_only_status_and_the_columns_it_writes(name, status):
    execution = filled(status)
    before = values(execution)

    getattr(execution, name)(**TRANSITIONS[name][0])

    changed = {column for column, value in values(execution).items() if before[column] != value}
    assert changed <= {"status", *getattr(execution, name).writes}
    assert "status" in changed


@pytest.mark.parametrize("name", TRANSITIONS)
def test_the_columns_a_transition_writes_are_columns(name):
    columns = {f.name for f in Execution._meta.concrete_fields}
    assert set(getattr(Execution, name).writes) <= columns
