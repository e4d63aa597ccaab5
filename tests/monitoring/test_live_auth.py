"""WebSocket authentication on a real uvicorn with its access log on, and a real `websockets`
client: how a CI client (no Origin, no cookie) and a browser (token as a subprotocol) connect, and
that no token ever reaches the server's log."""

import asyncio
import json

import pytest
from rest_framework.authtoken.models import Token
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests.live import free_port, live_env
from tests.monitoring.test_live import uvicorn, wait_for_server

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def server(tmp_path):
    """A uvicorn serving the app with its access log on, at debug level (the websockets library
    then logs every handshake header); yields (port, the log's path)."""
    env = live_env(REDIS_URL="", Q_BROKER="orm", IB_ALERT_EVALUATE_SECONDS="0")
    port = free_port()
    log_path = tmp_path / "uvicorn.log"
    with uvicorn(env, port, log_path, access_log=True, log_level="debug") as proc:
        wait_for_server(port, proc)
        yield port, log_path


async def first_message(url: str, **options) -> tuple[str | None, dict]:
    """The subprotocol the server chose and the first message it sent."""
    async with asyncio.timeout(30):
        async with connect(url, proxy=None, **options) as socket:
            return socket.subprotocol, json.loads(await socket.recv())


def test_ci_client_with_token_header_and_no_origin_is_served(server, running, viewer):
    port, _ = server
    token = Token.objects.create(user=viewer)
    url = f"ws://127.0.0.1:{port}/ws/executions/{running.pk}/"

    _, message = asyncio.run(
        first_message(url, additional_headers={"Authorization": f"Token {token.key}"})
    )

    assert message["type"] == "execution.event"
    assert message["execution"] == running.pk


def test_browser_style_token_subprotocol_is_answered_and_served(server, running, viewer):
    port, _ = server
    token = Token.objects.create(user=viewer)
    url = f"ws://127.0.0.1:{port}/ws/executions/{running.pk}/"

    subprotocol, message = asyncio.run(
        first_message(url, subprotocols=["token", token.key], origin=f"http://127.0.0.1:{port}")
    )

    assert subprotocol == "token"
    assert message["execution"] == running.pk


def test_no_token_reaches_the_server_log(server, running, viewer):
    port, log_path = server
    token = Token.objects.create(user=viewer)
    base = f"ws://127.0.0.1:{port}/ws/executions/{running.pk}/"
    # A stale client still putting the token in the URL, and the two supported ways.
    with pytest.raises(InvalidStatus):
        asyncio.run(first_message(f"{base}?token={token.key}"))
    asyncio.run(first_message(base, additional_headers={"Authorization": f"Token {token.key}"}))
    asyncio.run(first_message(base, subprotocols=["token", token.key]))

    log = log_path.read_text()
    assert log.count('"WebSocket /ws/executions/') == 3, log  # the log did record all three
    assert "< authorization: [redacted]" in log.lower()  # and, at debug level, the headers
    assert token.key not in log
