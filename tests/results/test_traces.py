"""Trace storage: inline below the threshold, rows at and above it, one accessor for both."""

import json

import pytest

from executions.models import StepRecord, TraceStorage
from executions.services import claim, worker_writes
from executions.traces import (
    trace_of,
    trace_record_step,
    trace_step_json_chunks,
    trace_step_page,
    trace_steps,
)
from tests.factories import TestCaseFactory, execution_for

pytestmark = pytest.mark.django_db
THRESHOLD = 5


@pytest.fixture(autouse=True)
def small_threshold(settings):
    settings.IB_TRACE_INLINE_MAX_STEPS = THRESHOLD


@pytest.fixture
def running(project):
    """A claimed (running) execution and its current attempt."""
    execution = execution_for(TestCaseFactory(project=project))
    claim.execution_claim_next(worker="w")
    return execution


def step(order: int, status: str = "passed", **extra) -> dict:
    return {
        "order": order,
        "name": f"step {order}",
        "status": status,
        "duration_ms": order,
        **extra,
    }


def record(execution, *orders, status="passed"):
    for order in orders:
        worker_writes.execution_record_step(
            execution.pk, step(order, status), worker="w", attempt=execution.attempt_count
        )
    return trace_of(execution)


def test_below_the_threshold_steps_stay_inline(running):
    trace = record(running, *range(1, THRESHOLD))

    assert trace.storage == TraceStorage.INLINE
    assert [s["order"] for s in trace.steps] == [1, 2, 3, 4]
    assert not StepRecord.objects.exists()


def test_at_the_threshold_every_step_moves_to_rows(running):
    trace = record(running, *range(1, THRESHOLD + 1))

    trace.refresh_from_db()
    assert trace.storage == TraceStorage.ROWS
    assert trace.steps == []
    assert list(trace.records.values_list("order", flat=True)) == [1, 2, 3, 4, 5]


def test_above_the_threshold_steps_are_appended_as_rows(running):
    trace = record(running, *range(1, THRESHOLD + 4))

    trace.refresh_from_db()
    assert trace.records.count() == THRESHOLD + 3
    assert trace.step_count == THRESHOLD + 3
    assert trace.last_order == THRESHOLD + 3


def test_promotion_mid_run_loses_and_reorders_nothing(running):
    # Steps arrive out of order (a manual step recorded late) across the threshold.
    trace = record(running, 1, 2, 4, 3, 6, 5, 7)

    trace.refresh_from_db()
    steps = trace_steps(trace)
    assert trace.storage == TraceStorage.ROWS
    assert [s["order"] for s in steps] == [1, 2, 3, 4, 5, 6, 7]
    assert all(s["attempt"] == 1 for s in steps)
    assert trace.counts == {"passed": 7}


@pytest.mark.parametrize("threshold", [100, THRESHOLD], ids=["inline", "rows"])
def test_a_step_recorded_again_replaces_it_and_its_count(running, settings, threshold):
    settings.IB_TRACE_INLINE_MAX_STEPS = threshold
    record(running, *range(1, 8))
    worker_writes.execution_record_step(
        running.pk, step(3, "failed", error={"message": "x"}), worker="w", attempt=1
    )

    trace = trace_of(running)
    steps = trace_steps(trace)
    assert len(steps) == 7
    assert steps[2]["status"] == "failed"
    assert trace.counts == {"passed": 6, "failed": 1}
    assert trace.step_count == 7


def test_both_storages_read_the_same(project, settings):
    def trace_with(threshold):
        settings.IB_TRACE_INLINE_MAX_STEPS = threshold
        execution = execution_for(TestCaseFactory(project=project))
        attempt = execution.attempts.get()
        for order in [1, 2, 3, 5, 4, 6, 7, 8]:
            trace_record_step(attempt, step(order, "failed" if order == 6 else "passed"))
        return trace_of(execution)

    inline, rows = trace_with(1000), trace_with(2)

    assert (inline.storage, rows.storage) == (TraceStorage.INLINE, TraceStorage.ROWS)
    assert trace_steps(inline) == trace_steps(rows)
    assert trace_step_page(inline, after=3, limit=2) == trace_step_page(rows, after=3, limit=2)
    assert [json.loads(t) for c in trace_step_json_chunks(inline) for t in c] == trace_steps(rows)
    assert [json.loads(t) for c in trace_step_json_chunks(rows) for t in c] == trace_steps(rows)
    assert inline.counts == rows.counts == {"passed": 7, "failed": 1}


def test_steps_api_pages_with_a_keyset(running, viewer_api):
    record(running, *range(1, 12))

    first = viewer_api.get(f"/api/v1/executions/{running.pk}/steps/?limit=4").json()
    second = viewer_api.get(
        f"/api/v1/executions/{running.pk}/steps/?limit=4&after={first['next_after']}"
    ).json()
    last = viewer_api.get(f"/api/v1/executions/{running.pk}/steps/?after=8").json()

    assert [s["order"] for s in first["results"]] == [1, 2, 3, 4]
    assert [s["order"] for s in second["results"]] == [5, 6, 7, 8]
    assert [s["order"] for s in last["results"]] == [9, 10, 11]
    assert last["next_after"] is None
    assert first["storage"] == "rows" and first["step_count"] == 11


def test_steps_api_reads_a_given_attempt(project, finish, viewer_api):
    execution = finish(TestCaseFactory(project=project), ["failed", "passed"])

    first = viewer_api.get(f"/api/v1/executions/{execution.pk}/steps/?attempt=1").json()
    latest = viewer_api.get(f"/api/v1/executions/{execution.pk}/steps/").json()

    assert (first["attempt"], first["results"][0]["status"]) == (1, "failed")
    assert (latest["attempt"], latest["results"][0]["status"]) == (2, "passed")


def test_steps_stream_holds_every_step_in_order(running, viewer_api):
    record(running, *range(1, 30))

    response = viewer_api.get(f"/api/v1/executions/{running.pk}/steps/stream/")
    document = json.loads(b"".join(response.streaming_content))

    assert response["Content-Type"] == "application/json"
    assert document["step_count"] == 29
    assert [s["order"] for s in document["steps"]] == list(range(1, 30))


def test_steps_stream_of_an_execution_without_steps_is_empty(project, viewer_api):
    execution = execution_for(TestCaseFactory(project=project))

    response = viewer_api.get(f"/api/v1/executions/{execution.pk}/steps/stream/")

    assert json.loads(b"".join(response.streaming_content))["steps"] == []
