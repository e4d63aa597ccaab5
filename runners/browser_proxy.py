"""The allow-list below the page: an HTTP proxy on loopback that Chromium sends every request to.

Why a proxy and not only Playwright's route handler: the route handler is not called for
redirect hops (microsoft/playwright#33882, #3993), nor for WebSockets, and whatever Chromium
does beyond what Playwright sees (preconnects, a frame's redirect) would reach the network
unchecked. Chromium is started with `--proxy-server` pointing here and `<-loopback>` in its
bypass list (so even loopback goes through the proxy), and it does no DNS of its own for proxied
requests: every connection the page makes arrives here as a CONNECT (https, ws, wss) or as an
absolute-URI request (http), is checked with resolve_allowed and goes to the address that was
checked, or is refused with a 403 and reported to `on_refused`.

One proxy per browser session (BrowserSession starts and closes it). It only relays bytes: TLS
stays end to end between Chromium and the site.
"""

import contextlib
import logging
import select
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from runners.allowlist import HostNotAllowed, host_label, resolve_allowed

log = logging.getLogger(__name__)

MAX_HEAD_BYTES = 64 * 1024
HEAD_TIMEOUT_SECONDS = 30.0
CONNECT_TIMEOUT_SECONDS = 15.0
_HOP_HEADERS = {b"connection", b"keep-alive", b"proxy-connection", b"proxy-authorization"}


@dataclass
class Refusal:
    """A request the proxy refused: `url` as far as the proxy knows it (a tunnel has only
    host:port), `host`/`port` for matching it to the page's navigations, `message` for the step."""

    url: str
    host: str
    port: int
    message: str


class _BadRequest(Exception):
    pass


class AllowListProxy:
    def __init__(self, patterns: list[str], on_refused: Callable[[Refusal], None]) -> None:
        self.patterns = list(patterns)
        self.on_refused = on_refused
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._closed = False

    @property
    def address(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        threading.Thread(target=self._accept, name="ib-browser-proxy", daemon=True).start()

    def close(self) -> None:
        """Stop accepting and cut every open connection (Chromium is being killed anyway)."""
        self._closed = True
        with contextlib.suppress(OSError):
            self._server.close()
        with self._lock:
            open_sockets, self._open = list(self._open), set()
        for sock in open_sockets:
            with contextlib.suppress(OSError):
                sock.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _track(self, sock: socket.socket) -> socket.socket:
        with self._lock:
            if self._closed:
                sock.close()
                raise OSError("the proxy is closed")
            self._open.add(sock)
        return sock

    def _serve(self, client: socket.socket) -> None:
        upstream = url = None
        try:
            self._track(client)
            client.settimeout(HEAD_TIMEOUT_SECONDS)
            head, rest = _read_head(client)
            method, target, version, headers = _parse_head(head)
            tunnel = method == b"CONNECT"
            url, host, port = _target(method, target)
            try:
                addresses = resolve_allowed(host, port, self.patterns)
            except HostNotAllowed as refused:
                self._refuse(client, Refusal(url, refused.host, port, str(refused)), tunnel)
                return
            except OSError as exc:  # the name does not resolve
                _reply(client, 502, f"{host_label(host, port)} could not be resolved: {exc}")
                return
            upstream = self._track(_connect(addresses, port))
            if tunnel:
                client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            else:
                upstream.sendall(_origin_form(method, target, version, headers))
            if rest:
                upstream.sendall(rest)
            _relay(client, upstream, rewrite_response_head=not tunnel, closed=lambda: self._closed)
        except _BadRequest as exc:
            with contextlib.suppress(OSError):
                _reply(client, 400, str(exc))
        except (OSError, ValueError) as exc:  # ValueError: select() on a socket close() just shut
            with contextlib.suppress(OSError):
                if upstream is None and url is not None:
                    log.warning("browser proxy: %s could not be reached: %s", url, exc)
                    _reply(client, 502, f"The site could not be reached: {exc}")
        finally:
            for sock in (client, upstream):
                if sock is not None:
                    with self._lock:
                        self._open.discard(sock)
                    with contextlib.suppress(OSError):
                        sock.close()

    def _refuse(self, client: socket.socket, refusal: Refusal, tunnel: bool) -> None:
        self.on_refused(refusal)
        # A tunnel's refusal is an error in the page (net::ERR_TUNNEL_CONNECTION_FAILED); an
        # http request gets this text as its response, which also shows in a screenshot.
        _reply(client, 403, f"IntelliBrowse refused this request: {refusal.message}")


def _read_head(client: socket.socket) -> tuple[bytes, bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        if len(data) > MAX_HEAD_BYTES:
            raise _BadRequest("The request head is too large.")
        chunk = client.recv(65536)
        if not chunk:
            raise OSError("the browser closed the connection")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    if len(head) > MAX_HEAD_BYTES:
        raise _BadRequest("The request head is too large.")
    return head, rest


def _parse_head(head: bytes) -> tuple[bytes, bytes, bytes, list[bytes]]:
    request_line, *headers = head.split(b"\r\n")
    parts = request_line.split(b" ")
    if len(parts) != 3:
        raise _BadRequest("Malformed request line.")
    return parts[0], parts[1], parts[2], headers


def _target(method: bytes, target: bytes) -> tuple[str, str, int]:
    """(url for the record, host, port) of the request."""
    text = target.decode("latin-1")
    if method == b"CONNECT":
        parts = urlsplit(f"//{text}")
        default = None
    else:
        parts = urlsplit(text)
        if parts.scheme != "http":
            raise _BadRequest("Only http:// requests and CONNECT tunnels go through this proxy.")
        default = 80
    try:
        port = parts.port or default
    except ValueError:
        port = None
    if not parts.hostname or port is None:
        raise _BadRequest(f"No host and port in {text!r}.")
    url = host_label(parts.hostname, port) if method == b"CONNECT" else text
    return url, parts.hostname, port


def _connect(addresses: list[str], port: int) -> socket.socket:
    last: OSError | None = None
    for address in addresses:  # the checked addresses only, never the name again
        try:
            sock = socket.create_connection((address, port), timeout=CONNECT_TIMEOUT_SECONDS)
        except OSError as exc:
            last = exc
            continue
        sock.settimeout(None)
        return sock
    raise last or OSError("no address")


def _origin_form(method: bytes, target: bytes, version: bytes, headers: list[bytes]) -> bytes:
    """The request as the site expects it: path only, no proxy headers, one request per
    connection (so a reused browser connection cannot carry a request for another host)."""
    parts = urlsplit(target.decode("latin-1"))
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    kept = [h for h in headers if h.split(b":", 1)[0].strip().lower() not in _HOP_HEADERS]
    lines = [b" ".join((method, path.encode("latin-1"), version)), *kept, b"Connection: close"]
    return b"\r\n".join(lines) + b"\r\n\r\n"


def _relay(client, upstream, *, rewrite_response_head: bool, closed) -> None:
    """Copy bytes both ways until either side closes. For plain http the response head gets
    `Connection: close`, so the browser opens a new proxy connection for its next request."""
    pending_head = b"" if rewrite_response_head else None
    peers = {client: upstream, upstream: client}
    while not closed():
        readable, _, _ = select.select(list(peers), [], [], 1.0)
        for sock in readable:
            data = sock.recv(65536)
            if not data:
                return
            if sock is upstream and pending_head is not None:
                pending_head += data
                if b"\r\n\r\n" not in pending_head and len(pending_head) < MAX_HEAD_BYTES:
                    continue
                data, pending_head = _close_after(pending_head), None
            peers[sock].sendall(data)


def _close_after(response: bytes) -> bytes:
    head, sep, body = response.partition(b"\r\n\r\n")
    if not sep:
        return response
    status, *headers = head.split(b"\r\n")
    kept = [h for h in headers if h.split(b":", 1)[0].strip().lower() not in _HOP_HEADERS]
    return b"\r\n".join([status, *kept, b"Connection: close"]) + sep + body


def _reply(client: socket.socket, status: int, message: str) -> None:
    reason = {400: "Bad Request", 403: "Forbidden", 502: "Bad Gateway"}[status]
    body = message.encode()
    client.sendall(
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
        + body
    )
