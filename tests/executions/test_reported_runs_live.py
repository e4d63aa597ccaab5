"""A reported run on the real path: a uvicorn serving the API and the WebSockets, the real reaper
(`manage.py reap --loop`, what every worker process runs in its watchdog), an HTTP client that
reports as a CI job would and a `websockets` client that watches. Results arrive live, a retried
batch is stored once, and when the client goes silent the run ends `interrupted` within its
lease, keeping what arrived."""

import asyncio
import json
import sys
import time

import httpx
import pytest
from rest_framework.authtoken.models import Token
from websockets.asyncio.client import connect

from bench.common import process_group
from executions.models import Execution, ExecutionStatus
from executions.traces import trace_of, trace_steps
from tests.live import free_port, live_env
from tests.monitoring.test_live import uvicorn, wait_for_server

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]
LEASE = 5  # the shortest a client may ask for


def reaper(env: dict, log_path):
    command = [sys.executable, "manage.py", "reap", "--loop", "--every", "0.3"]
    return process_group(command, env, log_path)


def rows(*outcomes, start=0):
    return [
        {"classname": "tests.test_live", "name": f"test_{start + i}", "outcome": o}
        for i, o in enumerate(outcomes)
    ]


def test_results_stream_live_and_a_silent_client_is_interrupted_within_its_lease(
    project, member, tmp_path
):
    env = live_env(REDIS_URL="", IB_WS_SWEEP_SECONDS="600", IB_ALERT_EVALUATE_SECONDS="0")
    token = Token.objects.create(user=member).key
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    api = httpx.Client(base_url=base, headers={"Authorization": f"Token {token}"}, timeout=30)
    with (
        uvicorn(env, port, tmp_path / "uvicorn.log") as server,
        reaper(env, tmp_path / "reaper.log"),
    ):
        try:
            wait_for_server(port, server)
            opened = api.post(
                "/api/v1/reported-runs/",
                json={"project": project.pk, "name": "live", "lease_seconds": LEASE},
            )
            assert opened.status_code == 201, opened.text
            run = opened.json()
            assert run["dashboard_url"] == f"{base}/executions/{run['id']}/"
            url = f"ws://127.0.0.1:{port}/ws/executions/{run['id']}/"

            def send(batch_id, results):
                path = f"/api/v1/reported-runs/{run['id']}/batches/"
                return api.post(path, json={"batch_id": batch_id, "results": results})

            async def scenario():
                seen, sent_at, interrupted_after = [], {}, None
                async with asyncio.timeout(90):
                    async with connect(
                        url, additional_headers={"Authorization": f"Token {token}"}, proxy=None
                    ) as socket:
                        async for raw in socket:
                            message = json.loads(raw)
                            if message["type"] == "feed.caught_up" and not sent_at:
                                # Connected and caught up: now report, a batch at a time.
                                first = await asyncio.to_thread(
                                    send, "b1", rows("passed", "failed")
                                )
                                retried = await asyncio.to_thread(
                                    send, "b1", rows("passed", "failed")
                                )
                                assert (first.status_code, retried.status_code) == (201, 200)
                                second = await asyncio.to_thread(
                                    send, "b2", rows("passed", start=2)
                                )
                                assert second.status_code == 201
                                sent_at["last"] = time.monotonic()
                            elif message["type"] == "execution.event":
                                seen.append(message)
                                if message.get("to_status") == "interrupted":
                                    interrupted_after = time.monotonic() - sent_at["last"]
                                    return seen, interrupted_after
                raise AssertionError("the socket closed before the run ended")

            events, silent_for = asyncio.run(scenario())
        except BaseException:
            for name in ("uvicorn.log", "reaper.log"):
                print(f"--- {name} ---\n{(tmp_path / name).read_text()[-5000:]}")
            raise
        finally:
            api.close()

    steps = [e["step"] for e in events if e["kind"] == "step"]
    assert [(s["order"], s["name"], s["status"]) for s in steps] == [
        (1, "tests.test_live.test_0", "passed"),
        (2, "tests.test_live.test_1", "failed"),
        (3, "tests.test_live.test_2", "passed"),
    ]
    # Interrupted once the lease ran out, and soon after (the reaper passes every 0.3 s).
    assert LEASE <= silent_for < LEASE + 10
    execution = Execution.objects.get(pk=run["id"])
    assert execution.status == ExecutionStatus.INTERRUPTED
    assert len(trace_steps(trace_of(execution))) == 3  # the retried batch stored once
    assert [e["seq"] for e in events] == sorted(e["seq"] for e in events)
