"""StepRecorder: steps are stored as they come; a run's last step is held for the finish."""

import pytest

from engine import worker as engine
from executions.models import Execution, ExecutionStatus
from executions.services import claim, people
from executions.traces import trace_steps
from runners.base import RunResult
from tests.factories import TestCaseFactory, execution_for

pytestmark = pytest.mark.django_db
S = ExecutionStatus


def step(order: int, status: str = "passed") -> dict:
    return {"order": order, "name": f"step {order}", "kind": "set", "status": status}


@pytest.fixture
def claimed(project):
    execution_for(TestCaseFactory(project=project))
    return claim.execution_claim_next(worker="w")


def stored_orders(execution: Execution) -> list[int]:
    attempt = execution.attempts.get()
    return [s["order"] for s in trace_steps(getattr(attempt, "trace", None))]


def test_a_step_is_stored_at_once_and_a_last_step_waits_for_the_finish(claimed):
    recorder = engine.recorder_for(engine.context_for(claimed), "w")

    recorder.record(step(1))
    held = recorder.record(step(2), last=True)

    assert stored_orders(claimed) == [1]
    assert held["attempt"] == 1 and recorder.held == held


def test_a_flush_stores_the_held_step_on_its_own(claimed):
    recorder = engine.recorder_for(engine.context_for(claimed), "w")
    recorder.record(step(1), last=True)

    recorder.flush()

    assert stored_orders(claimed) == [1] and recorder.held is None


def test_a_step_recorded_after_a_held_one_stores_both_in_order(claimed):
    recorder = engine.recorder_for(engine.context_for(claimed), "w")
    recorder.record(step(1), last=True)

    recorder.record(step(2))

    assert stored_orders(claimed) == [1, 2]


class HoldsThenWaitsForPeople:
    """A runner that holds its last step and then ends awaiting input: the step must not wait."""

    def run(self, ctx, case, recorder):
        recorder.record(step(1), last=True)
        return RunResult(outcome="", awaiting_input=True)


def test_a_run_that_does_not_finish_stores_its_held_step_before_it_ends(project, monkeypatch):
    execution = execution_for(TestCaseFactory(project=project))
    monkeypatch.setattr(engine, "runner_for", lambda case_type: HoldsThenWaitsForPeople())

    engine.run_next(worker="w")

    execution.refresh_from_db()
    assert execution.status == S.AWAITING_INPUT
    assert stored_orders(execution) == [1]


def test_a_cancel_that_comes_after_the_last_step_keeps_the_step(project, monkeypatch):
    execution = execution_for(TestCaseFactory(project=project), parameters={"x": 1})

    class CancelledAfterItsLastStep:
        def run(self, ctx, case, recorder):
            recorder.record(step(1), last=True)
            people.execution_cancel(execution.pk, reason="changed my mind")
            return RunResult(outcome=S.PASSED, reason="1 steps passed")

    monkeypatch.setattr(engine, "runner_for", lambda case_type: CancelledAfterItsLastStep())

    engine.run_next(worker="w")

    execution.refresh_from_db()
    assert execution.status == S.CANCELLED
    assert stored_orders(execution) == [1]
