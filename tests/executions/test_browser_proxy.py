"""The allow-list proxy browser steps run behind, spoken to directly with raw sockets: what a
hostile or broken client gets (a clear 4xx, never a crash), and that a refused target receives
nothing."""

import socket

import pytest

from runners.browser_proxy import AllowListProxy
from tests.executions.local_site import LocalSite
from tests.executions.outside import OutsideListener


@pytest.fixture
def proxy():
    refused = []
    running = AllowListProxy([], refused.append)
    running.refused = refused
    running.start()
    yield running
    running.close()


def exchange(proxy, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=30) as client:
        client.sendall(request)
        answer = b""
        while chunk := client.recv(65536):
            answer += chunk
    return answer


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"NONSENSE\r\n\r\n",
        b"GET /relative HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
        b"GET https://127.0.0.1/ HTTP/1.1\r\n\r\n",
        b"CONNECT nowhere HTTP/1.1\r\n\r\n",
        b"GET http://127.0.0.1:notaport/ HTTP/1.1\r\n\r\n",
    ],
)
def test_a_malformed_request_gets_a_400(proxy, request_bytes):
    assert exchange(proxy, request_bytes).startswith(b"HTTP/1.1 400 ")


def test_an_oversized_request_head_gets_a_400(proxy):
    request = b"GET http://127.0.0.1/ HTTP/1.1\r\nX: " + b"a" * 70_000 + b"\r\n\r\n"
    assert exchange(proxy, request).startswith(b"HTTP/1.1 400 ")


def test_a_tunnel_outside_the_list_is_refused_and_reported():
    with OutsideListener() as outside:
        refused = []
        proxy = AllowListProxy([], refused.append)
        proxy.start()
        try:
            target = f"{outside.address}:{outside.port}".encode()
            answer = exchange(proxy, b"CONNECT " + target + b" HTTP/1.1\r\n\r\n")
        finally:
            proxy.close()

    assert answer.startswith(b"HTTP/1.1 403 ")
    assert outside.accepted == []
    assert [(r.host, r.port) for r in refused] == [(outside.address, outside.port)]


def test_an_allowed_request_is_relayed_once_and_the_connection_closed(proxy):
    with LocalSite() as site:
        request = f"GET {site.url('/json')} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()
        answer = exchange(proxy, request)

    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 ")
    assert b"Connection: close" in head.split(b"\r\n")
    assert b'"count": 2' in body
    assert site.seen == ["/json"]
