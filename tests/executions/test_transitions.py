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
    "rerun": ({"now": NOW}, {S.PASSED, S.FAILED, S.ERROR, S.CANCELLED, S.TIMED_OUT}),
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
