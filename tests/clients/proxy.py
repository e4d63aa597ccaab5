"""A small HTTP relay between a client and the live server that can lose an answer (it passes the
request on, lets the server handle it, and then closes the client's connection instead of
relaying the answer, as a network that drops a response does) or hold requests until the test
lets them through (a server that is slow to answer). It also records what went through
(request line, headers, body size), to check what a client puts on the wire."""

import socket
import threading
from contextlib import suppress


def _read_request(conn: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


class LosingRelay:
    """Relays 127.0.0.1:<port> to the server on `upstream`; loses the answer to the first
    `lose` requests whose request line contains `match`. Every request (the client's own
    urllib sends Connection: close) has a connection of its own."""

    def __init__(
        self,
        upstream: int,
        *,
        match: bytes = b"",
        lose: int = 0,
        hold: threading.Event | None = None,
    ):
        self.upstream = upstream
        self.match = match
        self.to_lose = lose
        self.hold = hold  # while not set, matching requests wait here: a server that is slow
        self.lost: list[bytes] = []
        self.requests: list[dict] = []
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._server.close()

    def _serve(self):
        while True:
            try:
                conn, _ = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._relay, args=(conn,), daemon=True).start()

    def _relay(self, conn: socket.socket):
        with conn:
            request = _read_request(conn)
            head, _, body = request.partition(b"\r\n\r\n")
            lines = head.split(b"\r\n")
            headers = {}
            for line in lines[1:]:
                name, _, value = line.partition(b":")
                headers[name.strip().lower().decode()] = value.strip().decode()
            self.requests.append({"line": lines[0], "headers": headers, "body_bytes": len(body)})
            if self.hold is not None and self.match in lines[0]:
                self.hold.wait(120)
            with socket.create_connection(("127.0.0.1", self.upstream), timeout=60) as up:
                up.sendall(request)
                answer = b""
                while chunk := up.recv(65536):
                    answer += chunk
            if self.match in lines[0] and self.to_lose > 0:
                self.to_lose -= 1
                self.lost.append(lines[0])
                return  # handled by the server, the answer lost on the way
            with suppress(OSError):
                conn.sendall(answer)
