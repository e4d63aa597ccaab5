"""A reported run's batch on the real path (issue 16): a uvicorn serving the API and the WebSockets,
an HTTP client reporting as the pytest plugin does and a `websockets` client watching the run.
A batch's results show on the run's feed as they arrive, each one already a case result in the
case's history (they commit together), while the run is still open; a retried batch shows and
records nothing twice."""

import asyncio
import json

import httpx
import pytest
from rest_framework.authtoken.models import Token
from websockets.asyncio.client import connect

from results.models import CaseResult
from tests.live import free_port, live_env
from tests.monitoring.test_live import uvicorn, wait_for_server

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]


def test_a_batch_shows_on_the_runs_feed_as_it_arrives_recorded_in_history(
    project, member, tmp_path
):
    env = live_env(REDIS_URL="", IB_WS_SWEEP_SECONDS="600", IB_ALERT_EVALUATE_SECONDS="0")
    token = Token.objects.create(user=member).key
    port = free_port()
    api = httpx.Client(
        base_url=f"http://127.0.0.1:{port}",
        headers={"Authorization": f"Token {token}"},
        timeout=30,
    )
    batch = {
        "batch_id": "b1",
        "results": [
            {"classname": "tests.test_live", "name": "test_ok", "outcome": "passed"},
            {"classname": "tests.test_live", "name": "test_flaky", "outcome": "failed"},
            {"key": "tests/test_live.py::test_x", "outcome": "xfailed"},
        ],
    }
    rerun = {
        "batch_id": "b2",
        "results": [
            {
                "classname": "tests.test_live",
                "name": "test_flaky",
                "outcome": "passed",
                "attempt": 2,
            }
        ],
    }
    with uvicorn(env, port, tmp_path / "uvicorn.log") as server:
        try:
            wait_for_server(port, server)
            opened = api.post("/api/v1/reported-runs/", json={"project": project.pk, "name": "ci"})
            assert opened.status_code == 201, opened.text
            run_id = opened.json()["id"]
            path = f"/api/v1/reported-runs/{run_id}/batches/"

            def history_of(key):
                """The case's history, read over the API while the run is still open."""
                found = api.get(f"/api/v1/test-cases/?project={project.pk}&search={key}").json()
                cases = found["results"] if isinstance(found, dict) else found
                case = next(c for c in cases if c["key"] == key)
                rows = api.get(f"/api/v1/analytics/cases/{case['id']}/history/").json()
                return [(r["outcome"], r["retries"]) for r in rows["results"]]

            async def watch():
                seen = []
                url = f"ws://127.0.0.1:{port}/ws/executions/{run_id}/"
                headers = {"Authorization": f"Token {token}"}
                async with (
                    asyncio.timeout(60),
                    connect(url, additional_headers=headers, proxy=None) as socket,
                ):
                    async for raw in socket:
                        message = json.loads(raw)
                        if message["type"] == "feed.caught_up" and not seen:
                            seen.append(None)  # marks that the batches were sent
                            for body in (batch, batch, rerun):  # the first batch retried once
                                answer = await asyncio.to_thread(api.post, path, json=body)
                                assert answer.status_code in (200, 201), answer.text
                        elif message["type"] == "execution.event" and message["kind"] == "step":
                            seen.append(message)
                            if len(seen) == 5:  # four results, and nothing of the retry
                                history = await asyncio.to_thread(
                                    history_of, "tests.test_live.test_flaky"
                                )
                                return seen[1:], history

            steps, history = asyncio.run(watch())
            status = api.get(f"/api/v1/reported-runs/{run_id}/").json()["status"]
        except BaseException:
            print((tmp_path / "uvicorn.log").read_text()[-5000:])
            raise
        finally:
            api.close()

    assert [(m["step"]["order"], m["step"]["name"], m["step"]["status"]) for m in steps] == [
        (1, "tests.test_live.test_ok", "passed"),
        (2, "tests.test_live.test_flaky", "failed"),
        (3, "tests/test_live.py::test_x", "skipped"),
        (4, "tests.test_live.test_flaky", "passed"),
    ]
    assert steps[-1]["summary"]["counts"] == {"passed": 2, "failed": 1, "skipped": 1}
    # Both attempts of the flaky test are in its history (newest first) while the run is open.
    assert history == [("passed", 1), ("failed", 0)] and status == "running"
    assert CaseResult.objects.filter(execution_id=run_id).count() == 4
