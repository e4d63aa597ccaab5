"""The ASGI application: the lifespan starts and stops the web process's background work, HTTP
goes to Django, WebSockets to the consumers."""

import json

import pytest
from asgiref.testing import ApplicationCommunicator
from django.core.handlers.wsgi import WSGIHandler

from core.bounded_body import BoundedBody
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


def get_through_asgi(path: str, method: str = "GET", body: bytes = b"") -> tuple[int, bytes]:
    async def scenario():
        scope = {
            "type": "http",
            "http_version": "1.1",
            "scheme": "http",
            "server": ("testserver", 80),
            "client": ("127.0.0.1", 50000),
            "root_path": "",
            "method": method,
            "path": path,
            "headers": [
                (b"host", b"testserver"),
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
            "query_string": b"",
        }
        app = ApplicationCommunicator(asgi.router, scope)
        await app.send_input({"type": "http.request", "body": body})
        start = await app.receive_output(timeout=30)  # a loaded machine's first request
        answer = await app.receive_output(timeout=5)
        return start["status"], answer["body"]

    return run_async(scenario)


def test_http_goes_to_django(db):
    assert get_through_asgi("/health/live") == (200, b'{"status": "ok"}')


def test_http_is_served_by_djangos_wsgi_handler_in_a_fixed_pool_of_threads(settings):
    # Django's ASGI handler hopped threads at every sync middleware (docs/performance.md); the
    # WSGI handler runs the whole request in one thread, which keeps its database connection.
    wsgi = asgi.django_http_app.app  # inside core.bounded_body.BoundedBody
    assert isinstance(wsgi.app, WSGIHandler)
    assert wsgi.executor._max_workers == settings.IB_HTTP_THREADS


def test_an_api_error_through_asgi_keeps_the_json_shape(db):
    status, body = get_through_asgi("/api/v1/executions/")

    assert (status, json.loads(body)["code"]) == (401, "not_authenticated")


def test_a_request_body_reaches_django_through_the_asgi_application(db):
    # Malformed on purpose: the parser's answer shows Django read the body, with no database
    # query or password hashing to wait for.
    status, body = get_through_asgi("/api/v1/auth/token/", method="POST", body=b'{"username": ')

    assert status == 400
    assert "JSON" in json.loads(body)["message"]


def test_a_body_declared_past_every_limit_is_refused_before_it_is_read(settings):
    """core.bounded_body: the answer comes from the declared length; the body is never asked
    for (the application would otherwise wait on receive() for bytes that never come)."""
    settings.IB_JUNIT_MAX_BYTES = settings.IB_ATTACHMENT_MAX_BYTES = 1024
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    limit = 1024 + 1024 * 1024  # the largest limit plus the room for multipart framing

    async def scenario():
        scope = {
            "type": "http",
            "method": "POST",
            "path": "/api/v1/imports/junit/",
            "headers": [(b"host", b"testserver"), (b"content-length", str(limit + 1).encode())],
            "query_string": b"",
        }
        app = ApplicationCommunicator(asgi.router, scope)
        start = await app.receive_output(timeout=10)
        answer = await app.receive_output(timeout=5)
        return start, json.loads(answer["body"])

    start, body = run_async(scenario)
    assert start["status"] == 413
    assert body["code"] == "too_large" and body["detail"] == {"limit_bytes": limit}


def test_a_body_of_unknown_length_reaches_the_application_with_one_content_length(settings):
    """A chunked body, or one whose Content-Length is not a number, is read first and handed on
    with the length it turned out to have, in place of the client's framing headers."""
    seen = {}

    async def inner(scope, receive, send):
        seen["headers"] = [(k, v) for k, v in scope["headers"] if k != b"host"]
        seen["body"] = (await receive())["body"]
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def scenario():
        scope = {
            "type": "http",
            "method": "POST",
            "path": "/",
            "headers": [
                (b"host", b"t"),
                (b"content-length", b"abc"),
                (b"transfer-encoding", b"chunked"),
            ],
        }
        app = ApplicationCommunicator(BoundedBody(inner), scope)
        await app.send_input({"type": "http.request", "body": b"12", "more_body": True})
        await app.send_input({"type": "http.request", "body": b"345"})
        return (await app.receive_output(timeout=5))["status"]

    assert run_async(scenario) == 204
    assert seen == {"headers": [(b"content-length", b"5")], "body": b"12345"}
