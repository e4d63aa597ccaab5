"""JUnit uploads the way CI clients send them, through a real uvicorn: a chunked body with no
Content-Length (Python requests with a generator, Go with an io.Reader, `curl -T -`), gzip on the
wire, a gzip bomb, and a chunked body past every limit, which the server stops reading."""

import gzip
import http.client
import json
import select
import socket

import pytest
from rest_framework.authtoken.models import Token

from results.models import CaseResult, ImportBatch
from tests.live import free_port, live_env
from tests.monitoring.test_live import uvicorn, wait_for_server
from tests.results.conftest import sample
from tests.results.test_junit_real_reports import big_jest_report

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def server(django_db_setup, tmp_path_factory):
    # Small limits so that "past the limit" is quick to send: the JUnit limit is 1 MiB, and the
    # largest body any endpoint takes is then the JSON limit (2.5 MiB) plus 1 MiB of framing.
    env = live_env(
        IB_JUNIT_MAX_BYTES=str(MIB),
        IB_ATTACHMENT_MAX_BYTES=str(MIB),
        IB_MAX_BODY_BYTES=str(2 * MIB),
        IB_ALERT_EVALUATE_SECONDS="0",
    )
    port = free_port()
    log = tmp_path_factory.mktemp("server") / "uvicorn.log"
    with uvicorn(env, port, log) as proc:
        wait_for_server(port, proc)
        yield port
        assert proc.poll() is None, log.read_text()[-3000:]


@pytest.fixture
def token(member):
    return Token.objects.create(user=member).key


def chunked_post(port, path, pieces, token, **headers) -> tuple[int, dict, dict]:
    """POST `pieces` (an iterable of bytes) with Transfer-Encoding: chunked, as http.client sends
    an iterable body: no Content-Length header at all."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request(
            "POST",
            path,
            body=iter(pieces),
            headers={
                "Authorization": f"Token {token}",
                "Content-Type": "application/xml",
                **headers,
            },
            encode_chunked=True,
        )
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), json.loads(response.read())
    finally:
        conn.close()


def pieces_of(data: bytes, size: int = 8192):
    for start in range(0, len(data), size):
        yield data[start : start + size]


def test_a_chunked_report_with_no_content_length_is_imported(server, project, token):
    report = big_jest_report(4239, nameless_at=7)
    path = f"/api/v1/imports/junit/?project={project.pk}&revision=abc"

    status, _, body = chunked_post(server, path, pieces_of(report), token)

    assert status == 201, body
    assert body["totals"]["tests"] == 4239
    assert body["size_bytes"] == len(report)
    assert body["revision"] == "abc"
    assert CaseResult.objects.count() == 4239


def test_a_chunked_gzip_report_is_imported(server, project, token):
    raw = sample("go_junit_report_ansi.xml")
    path = f"/api/v1/imports/junit/?project={project.pk}"

    status, _, body = chunked_post(
        server, path, pieces_of(gzip.compress(raw), 64), token, **{"Content-Encoding": "gzip"}
    )

    assert status == 201, body
    assert body["totals"]["tests"] == 2
    assert body["notes"][0]["code"] == "control_characters_replaced"


def test_a_gzip_bomb_over_the_wire_is_a_413(server, project, token):
    bomb = gzip.compress(b"<testsuites>" + b" " * (64 * MIB) + b"</testsuites>", 9)
    assert len(bomb) < MIB // 10
    path = f"/api/v1/imports/junit/?project={project.pk}"

    status, _, body = chunked_post(
        server, path, pieces_of(bomb), token, **{"Content-Encoding": "gzip"}
    )

    assert status == 413
    assert body["code"] == "too_large"
    assert body["message"] == f"The report is larger than the limit of {MIB:,} bytes."
    assert body["detail"] == {"limit_bytes": MIB}
    assert not ImportBatch.objects.exists()


def test_a_chunked_body_over_the_junit_limit_is_a_413_from_the_reader(server, project, token):
    # Few, fat testcases: the import writes what it read before the limit, then rolls back.
    output = "<system-out>" + "x" * 16_000 + "</system-out>"
    cases = "".join(
        f'<testcase classname="big" name="case {i}">{output}</testcase>' for i in range(120)
    )
    report = f'<testsuites><testsuite name="big">{cases}</testsuite></testsuites>'.encode()
    assert MIB < len(report) < 3 * MIB

    status, _, body = chunked_post(
        server, f"/api/v1/imports/junit/?project={project.pk}", pieces_of(report), token
    )

    assert status == 413 and body["detail"] == {"limit_bytes": MIB}
    assert not ImportBatch.objects.exists()


def test_the_server_stops_reading_a_chunked_body_past_every_limit(server, project, token):
    # A raw socket, so the test sees when the answer comes: http.client sends the whole body
    # before it reads anything.
    head = (
        f"POST /api/v1/imports/junit/?project={project.pk} HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{server}\r\nAuthorization: Token {token}\r\n"
        "Content-Type: application/xml\r\nTransfer-Encoding: chunked\r\n\r\n"
    ).encode()
    piece = b"10000\r\n" + b" " * 0x10000 + b"\r\n"  # 64 KiB chunks
    sent = 0
    with socket.create_connection(("127.0.0.1", server), timeout=30) as sock:
        sock.sendall(head)
        while sent < 64 * MIB and not select.select([sock], [], [], 0)[0]:
            sock.sendall(piece)
            sent += 0x10000
        answer = b""
        while not _whole_answer(answer):
            data = sock.recv(65536)
            assert data, f"the server closed the connection after {answer!r}"
            answer += data

    head, _, rest = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413 ")
    assert b"content-type: application/json" in head.lower()
    body = json.loads(_body_of(head, rest))
    assert body["code"] == "too_large" and body["detail"] == {"limit_bytes": 3 * MIB}
    # It answered once the body passed the limit, long before the client was done.
    assert 3 * MIB < sent < 8 * MIB


def _whole_answer(answer: bytes) -> bool:
    """Whether `answer` holds a whole HTTP response, framed by Content-Length or chunked."""
    head, found, rest = answer.partition(b"\r\n\r\n")
    if not found:
        return False
    length = _content_length(head)
    return len(rest) >= length if length is not None else rest.endswith(b"\r\n0\r\n\r\n")


def _content_length(head: bytes) -> int | None:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return None


def _body_of(head: bytes, rest: bytes) -> bytes:
    length = _content_length(head)
    if length is not None:
        return rest[:length]
    size, _, chunk = rest.partition(b"\r\n")
    return chunk[: int(size, 16)]
