"""Fixtures of the results tests: cases that pass or fail on demand, runs driven through the real
engine and lifecycle services, and the JUnit samples."""

from pathlib import Path

import pytest

from engine import worker as engine
from executions.models import ExecutionStatus
from executions.services import claim, worker_writes
from results.processing import process_finished_execution
from tests.factories import SuiteItemFactory, TestCaseFactory, TestSuiteFactory, execution_for

SAMPLES = Path(__file__).parent / "junit_samples"
S = ExecutionStatus


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


@pytest.fixture
def x_case(project):
    """Passes when run with parameters {"x": 1}, fails otherwise."""
    return TestCaseFactory(
        project=project,
        key="checkout.pays",
        steps=[{"name": "x is 1", "action": "assert", "params": {"variable": "x", "equals": 1}}],
    )


@pytest.fixture
def run():
    """run(case, x=1, **execution options) -> the finished, processed execution (real engine)."""

    def run_case(case, *, x=1, **options):
        execution = execution_for(case, parameters={"x": x}, **options)
        while engine.run_next(worker="w") is not None:
            pass
        execution.refresh_from_db()
        process_finished_execution(execution.pk)
        execution.refresh_from_db()
        return execution

    return run_case


@pytest.fixture
def finish():
    """finish(case, ["failed", "passed"], revision=...) drives one execution through the
    lifecycle services as a worker would: each outcome is one attempt (automatic retries)."""

    def finish_case(case, outcomes, **options):
        execution = execution_for(
            case, max_retries=len(outcomes) - 1, retry_backoff_seconds=0, **options
        )
        for outcome in outcomes:
            claimed = claim.execution_claim_next(worker="w")
            assert claimed.pk == execution.pk
            step = {"order": 1, "name": "check", "status": outcome, "duration_ms": 5}
            held = {"worker": "w", "attempt": claimed.attempt_count}
            worker_writes.execution_record_step(execution.pk, step, **held)
            worker_writes.execution_complete(execution.pk, outcome=outcome, **held)
        execution.refresh_from_db()
        assert execution.status == outcomes[-1]
        process_finished_execution(execution.pk)
        return execution

    return finish_case


@pytest.fixture
def make_suite(project):
    def make(*cases, **options):
        suite = TestSuiteFactory(project=project, **options)
        for order, case in enumerate(cases):
            SuiteItemFactory(suite=suite, case=case, order=order)
        return suite

    return make
