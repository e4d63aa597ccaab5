"""The ASGI application: the lifespan starts and stops the web process's background work, HTTP
goes to Django, WebSockets to the consumers."""

import asyncio
import json
import os
import subprocess
import sys

import pytest
from asgiref.testing import ApplicationCommunicator

from intellibrowse import asgi
from live.relay import EventRelay
from tests.monitoring.conftest import run_async


@pytest.mark.django_db(transaction=True)
def test_lifespan_starts_the_relay_without_redis_and_stops_it(settings):
    settings.REDIS_URL = ""

    async def scenario():
        app = ApplicationCommunicator(asgi.application, {"type": "lifespan"})
        await app.send_input({"type": "lifespan.startup"})
        started = await app.receive_output(timeout=5)
        running = [type(worker) for worker, _ in asgi.background._running]
        await app.send_input({"type": "lifespan.shutdown"})
        stopped = await app.receive_output(timeout=10)
        return started, running, stopped, asgi.background.started

    started, running, stopped, still_started = run_async(scenario)
    assert started == {"type": "lifespan.startup.complete"}
    assert EventRelay in running
    assert stopped == {"type": "lifespan.shutdown.complete"}
    assert not still_started


@pytest.mark.django_db(transaction=True)
def test_with_redis_the_workers_publish_and_no_relay_runs(settings):
    settings.REDIS_URL = "redis://127.0.0.1:6379/0"  # only read to decide; nothing connects
    settings.IB_ALERT_EVALUATE_SECONDS = 0

    async def scenario():
        app = ApplicationCommunicator(asgi.application, {"type": "lifespan"})
        await app.send_input({"type": "lifespan.startup"})
        await app.receive_output(timeout=5)
        running = list(asgi.background._running)
        await app.send_input({"type": "lifespan.shutdown"})
        await app.receive_output(timeout=10)
        return running

    assert run_async(scenario) == []


def get_through_asgi(path: str) -> tuple[int, bytes]:
    async def scenario():
        scope = {
            "type": "http",
            "method": "GET",
            "path": path,
            "headers": [(b"host", b"testserver")],
            "query_string": b"",
        }
        app = ApplicationCommunicator(asgi.router, scope)
        await app.send_input({"type": "http.request", "body": b""})
        start = await app.receive_output(timeout=5)
        body = await app.receive_output(timeout=5)
        return start["status"], body["body"]

    return run_async(scenario)


def test_http_goes_to_django(db):
    assert get_through_asgi("/health/live") == (200, b'{"status": "ok"}')


def test_the_http_middleware_chain_is_entered_once_per_request_in_sync_mode():
    # An async chain of sync middleware hops threads at every step (docs/performance.md).
    assert not asyncio.iscoroutinefunction(asgi.django_asgi_app._middleware_chain)


def test_an_api_error_through_asgi_keeps_the_json_shape(db):
    status, body = get_through_asgi("/api/v1/executions/")

    assert (status, json.loads(body)["code"]) == (401, "not_authenticated")


def test_the_pool_request_does_not_leak_to_processes_started_later():
    # intellibrowse.asgi is imported by this very module; a qcluster the test suite starts next
    # must not inherit IB_DB_POOL (a pool does not survive django-q2's fork).
    assert "IB_DB_POOL" not in os.environ


@pytest.mark.parametrize(
    ("argv", "pooled"), [(["uvicorn"], True), (["manage.py", "qcluster"], False)]
)
def test_a_pool_is_only_for_web_processes(argv, pooled):
    code = (
        f"import sys; sys.argv = {argv!r}; "
        "import intellibrowse.settings as s; print(s.DB_POOL, s.DATABASES['default']['CONN_MAX_AGE'])"
    )
    env = {
        **os.environ,
        "IB_DB_POOL": "1",
        "DATABASE_URL": "postgres://nobody@127.0.0.1:1/none",  # read, never connected to
    }
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == ([str(pooled), "0"] if pooled else ["False", "60"])
