"""The ASGI application: the lifespan starts and stops the web process's background work, HTTP
goes to Django, WebSockets to the consumers."""

import pytest
from asgiref.testing import ApplicationCommunicator

from intellibrowse import asgi
from monitoring.relay import EventRelay
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


def test_http_goes_to_django(db):
    async def scenario():
        scope = {
            "type": "http",
            "method": "GET",
            "path": "/health/live",
            "headers": [(b"host", b"testserver")],
            "query_string": b"",
        }
        app = ApplicationCommunicator(asgi.router, scope)
        await app.send_input({"type": "http.request", "body": b""})
        start = await app.receive_output(timeout=5)
        body = await app.receive_output(timeout=5)
        return start["status"], body["body"]

    assert run_async(scenario) == (200, b'{"status": "ok"}')
