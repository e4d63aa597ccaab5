"""The embedded relay: follows the event log without skipping late commits, and delivers what
services write to connected sockets through the in-memory layer."""

import asyncio

import pytest
from channels.db import database_sync_to_async

from executions.models import EventKind, ExecutionEvent
from live.feed import EventFollower
from live.relay import EventRelay, SqliteChangeWatch
from tests.monitoring.conftest import (
    communicator,
    receive_events,
    record_step,
    run_async,
    session_headers,
)


def _event(execution, pk: int, seq: int) -> ExecutionEvent:
    # Rows with chosen ids stand in for transactions that took their ids in one order and
    # committed in another (PostgreSQL sequences); the follower only ever sees ids.
    return ExecutionEvent.objects.create(
        pk=pk, execution=execution, project_id=execution.project_id, seq=seq, kind=EventKind.LOG
    )


@pytest.fixture
def follower(running):
    return EventFollower.from_now()


def test_follower_starts_at_the_end_of_the_log(follower):
    assert follower.poll() == []


def test_follower_returns_new_events_once_in_id_order(follower, running):
    record_step(running, 0)
    record_step(running, 1)
    first = follower.poll()
    assert [p["step"]["order"] for p in first] == [0, 1]
    assert follower.poll() == []


def test_follower_does_not_skip_an_event_that_commits_after_a_higher_id(follower, running):
    base = follower.cursor
    _event(running, base + 2, 100)
    assert [p["event_id"] for p in follower.poll()] == [base + 2]
    assert follower.gaps.keys() == {base + 1}
    _event(running, base + 1, 101)  # took its id first, committed later
    assert [p["event_id"] for p in follower.poll()] == [base + 1]
    assert follower.gaps == {}


def test_follower_forgets_gaps_that_never_fill(follower, running, monkeypatch):
    _event(running, follower.cursor + 3, 100)
    follower.poll()
    assert len(follower.gaps) == 2
    monkeypatch.setattr(EventFollower, "GAP_TTL_SECONDS", 0)
    follower.poll()
    assert follower.gaps == {}


def test_follower_bounds_the_gaps_it_remembers(follower, running, monkeypatch):
    monkeypatch.setattr(EventFollower, "MAX_GAPS", 5)
    _event(running, follower.cursor + 50, 100)
    follower.poll()
    assert len(follower.gaps) == 5


@pytest.mark.django_db(transaction=True)
def test_relay_delivers_steps_written_by_services_to_a_socket(running, viewer):
    headers = session_headers(viewer)

    async def scenario():
        relay = EventRelay(poll_seconds=0.02)
        task = asyncio.create_task(relay.run())
        comm = communicator(f"/ws/executions/{running.pk}/", headers)
        await comm.connect()
        caught_up = (await receive_events(comm))[-1]["seq"]
        await asyncio.sleep(0.1)  # the relay has read the end of the log
        for order in range(3):
            await database_sync_to_async(record_step)(running, order)
        received = [await comm.receive_json_from(timeout=5) for _ in range(3)]
        await comm.disconnect()
        relay.stop()
        await task
        return caught_up, received

    caught_up, received = run_async(scenario)
    assert [m["seq"] for m in received] == [caught_up + 1, caught_up + 2, caught_up + 3]
    assert [m["step"]["order"] for m in received] == [0, 1, 2]


@pytest.mark.django_db(transaction=True)
def test_sqlite_watch_notices_a_commit(running, settings):
    watch = SqliteChangeWatch.for_default_database()
    if watch is None:
        pytest.skip("the WAL watch is for SQLite")
    assert not watch.changed()
    record_step(running, 0)
    assert watch.changed()
    assert not watch.changed()
