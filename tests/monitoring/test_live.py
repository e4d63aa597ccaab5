"""End to end, with real processes: a `qcluster` worker runs an execution, a uvicorn server serves
the ASGI app, and a `websockets` client receives every event of the run, in order, live.

Twice: with Redis (the worker publishes through channels_redis's pub/sub layer) and without it
(the embedded mode of `make run`: the web process relays from the event log to its in-memory
layer). Both processes use this test's database (transaction=True, so they see its rows).
"""

import asyncio
import json
import sys

import httpx
import pytest
from django.db import connections
from rest_framework.authtoken.models import Token
from websockets.asyncio.client import connect

from bench.common import process_group
from catalog.models import CaseType
from executions.models import ExecutionStatus
from executions.services.queue import queue_pause, queue_resume
from monitoring.models import WorkerHeartbeat
from tests.factories import TestCaseFactory, execution_for
from tests.live import free_port, live_env, qcluster, wait_until

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]

STEPS = 6
TERMINAL = {s.value for s in ExecutionStatus if s in ("passed", "failed", "error", "cancelled")}


def uvicorn(env: dict, port: int, log_path, *, access_log: bool = False, log_level: str = "info"):
    return process_group(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "intellibrowse.asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--lifespan",
            "on",
            "--access-log" if access_log else "--no-access-log",
            "--log-level",
            log_level,
        ],
        env,
        log_path,
    )


def wait_for_server(port: int, proc) -> None:
    def up():
        assert proc.poll() is None, "the server process exited"
        try:
            return httpx.get(f"http://127.0.0.1:{port}/health/live", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    wait_until(up, timeout=30, interval=0.1, what="the ASGI server to answer")


def wait_for_worker(proc) -> None:
    def alive():
        assert proc.poll() is None, "the worker process exited"
        return WorkerHeartbeat.objects.exists()

    wait_until(alive, timeout=30, interval=0.1, what="the worker to report")


async def watch(
    url: str, token: str, timeout: float, caught_up: asyncio.Event | None = None
) -> tuple[list[dict], int]:
    """Every event until the execution ends, and how many arrived before the feed caught up."""
    events: list[dict] = []
    replayed = None
    async with asyncio.timeout(timeout):
        async with connect(
            url, additional_headers={"Authorization": f"Token {token}"}, proxy=None
        ) as socket:
            async for raw in socket:
                message = json.loads(raw)
                if message["type"] == "feed.caught_up":
                    replayed = len(events)
                    if caught_up is not None:
                        caught_up.set()
                elif message["type"] == "execution.event":
                    events.append(message)
                    if message["kind"] == "transition" and message["to_status"] in TERMINAL:
                        return events, replayed
    raise AssertionError("the socket closed before the execution ended")


@pytest.fixture
def waiting_case(project):
    steps = [
        {"name": f"wait {i}", "action": "wait", "params": {"seconds": 0.3}} for i in range(STEPS)
    ]
    return TestCaseFactory(project=project, type=CaseType.GENERIC, steps=steps)


def resume_in_thread() -> None:
    try:
        queue_resume()
    finally:
        connections.close_all()  # this thread's own connection, or the test database stays busy


def _stream_a_run(*, env: dict, case, user, tmp_path):
    token = Token.objects.create(user=user)
    port = free_port()
    with (
        uvicorn(env, port, tmp_path / "uvicorn.log") as server,
        qcluster(env, tmp_path / "qcluster.log") as worker,
    ):
        try:
            wait_for_server(port, server)
            wait_for_worker(worker)
            # Paused while the client connects, so every step has to arrive live.
            queue_pause(reason="test: connect first")
            execution = execution_for(case)
            url = f"ws://127.0.0.1:{port}/ws/executions/{execution.pk}/"

            async def scenario():
                caught_up = asyncio.Event()
                watching = asyncio.create_task(watch(url, token.key, 60, caught_up))
                # Connected and caught up before the run starts (a condition, not a sleep: on a
                # loaded machine the handshake alone can take longer than any fixed pause).
                async with asyncio.timeout(60):
                    await caught_up.wait()
                await asyncio.to_thread(resume_in_thread)
                return await watching

            return execution, asyncio.run(scenario())
        except BaseException:
            for name in ("uvicorn.log", "qcluster.log"):
                print(f"--- {name} ---\n{(tmp_path / name).read_text()[-5000:]}")
            raise


def _assert_complete_and_ordered(execution, events, replayed):
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.PASSED
    seen = [(e["execution"], e["seq"], e["kind"], e.get("to_status")) for e in events]
    assert all(e["execution"] == execution.pk for e in events), seen
    assert [e["seq"] for e in events] == list(range(1, execution.event_seq + 1)), seen
    steps = [e for e in events if e["kind"] == "step"]
    assert [s["step"]["order"] for s in steps] == list(range(1, STEPS + 1))
    assert all(s["step"]["status"] == "passed" for s in steps)
    # Nothing of the run was in the log when the client caught up: it all came live.
    assert replayed is not None
    assert all(events.index(s) >= replayed for s in steps)


def test_steps_stream_live_through_redis(settings, waiting_case, viewer, tmp_path):
    if not settings.REDIS_URL:
        pytest.skip("needs REDIS_URL (the Redis pub/sub channel layer)")
    env = live_env(
        REDIS_URL=settings.REDIS_URL,
        Q_BROKER=settings.Q_BROKER,
        IB_WS_SWEEP_SECONDS="600",  # the channel layer must deliver, not the catch-up
        IB_ALERT_EVALUATE_SECONDS="0",
    )
    execution, (events, replayed) = _stream_a_run(
        env=env, case=waiting_case, user=viewer, tmp_path=tmp_path
    )
    _assert_complete_and_ordered(execution, events, replayed)


def test_steps_stream_live_without_redis(waiting_case, viewer, tmp_path):
    env = live_env(
        REDIS_URL="",
        Q_BROKER="orm",
        IB_WS_SWEEP_SECONDS="600",  # the relay must deliver, not the catch-up
        IB_ALERT_EVALUATE_SECONDS="0",
    )
    execution, (events, replayed) = _stream_a_run(
        env=env, case=waiting_case, user=viewer, tmp_path=tmp_path
    )
    _assert_complete_and_ordered(execution, events, replayed)
