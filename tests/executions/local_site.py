"""A real HTTP server on 127.0.0.1 that the runner tests aim at (the stand-in for a remote site),
and helpers to run a case through the real engine and read its trace.

Routes: /json, /text, /echo (method, path, query, headers and body back as JSON), /slow?ms=,
/status/<code>, /redirect?to=<url>, /page/<name> (the HTML pages below, for browser steps),
/html?src=<html>[&type=<content type>] (that text, for pages and scripts a test writes).
"""

import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from engine import worker as engine
from executions.models import Trace
from executions.traces import trace_steps
from runners.browser_session import browser_executable
from tests.factories import execution_for

# Browser tests are skipped only when Chromium is missing AND IB_REQUIRE_BROWSER is unset: CI sets
# it, so there a missing browser fails the suite instead of silently skipping.
HAS_CHROMIUM = Path(browser_executable()).exists()
needs_browser = pytest.mark.skipif(
    not HAS_CHROMIUM and not os.environ.get("IB_REQUIRE_BROWSER"),
    reason=f"no Chromium at {browser_executable()} (set IB_REQUIRE_BROWSER=1 to fail instead)",
)

PAGES = {
    "form": """<!doctype html><html><head><title>Order form</title></head><body>
<h1 id="heading">Order</h1>
<form id="order" onsubmit="event.preventDefault(); show()">
  <input id="name" name="name">
  <select id="size"><option value="s">Small</option><option value="l">Large</option></select>
  <input id="qty" name="qty" value="1">
  <button id="go" type="submit">Order</button>
</form>
<p id="result" hidden></p>
<div id="late" hidden>Late text</div>
<script>
function show() {
  const r = document.getElementById('result');
  r.textContent = 'Ordered ' + document.getElementById('qty').value + ' x ' +
    document.getElementById('size').value + ' for ' + document.getElementById('name').value;
  r.hidden = false;
  history.pushState({}, '', '/page/form?done=1');
}
setTimeout(() => { document.getElementById('late').hidden = false; }, 300);
</script></body></html>""",
    "outside": """<!doctype html><html><head><title>Outside</title></head><body>
<h1>Loads an image from a host that is not allowed</h1>
<img src="http://blocked.example.test/pixel.png"></body></html>""",
}

JSON_DOCUMENT = {
    "count": 2,
    "items": [{"id": 1, "name": "apple", "tags": ["fruit"]}, {"id": 2, "name": "bread"}],
    "token": "tok-123",
    "ok": True,
}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:  # keep test output quiet
        pass

    def _send(self, status: int, body: bytes, content_type: str, headers: dict | None = None):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, document: object, headers: dict | None = None):
        self._send(status, json.dumps(document).encode(), "application/json", headers)

    def _route(self) -> None:
        self.server.seen.append(self.path)
        parts = urlsplit(self.path)
        query = parse_qs(parts.query)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if parts.path == "/json":
            self._json(200, JSON_DOCUMENT, {"X-Trace": "trace-42"})
        elif parts.path == "/text":
            self._send(200, b"hello plain world", "text/plain; charset=utf-8")
        elif parts.path == "/echo":
            self._json(
                200,
                {
                    "method": self.command,
                    "path": parts.path,
                    "query": {k: v if len(v) > 1 else v[0] for k, v in query.items()},
                    "headers": {k.lower(): v for k, v in self.headers.items()},
                    "body": body.decode(),
                },
            )
        elif parts.path == "/slow":
            time.sleep(int(query.get("ms", ["500"])[0]) / 1000)  # the slow server under test
            self._json(200, {"slow": True})
        elif parts.path.startswith("/status/"):
            self._json(int(parts.path.rsplit("/", 1)[1]), {"status": "as asked"})
        elif parts.path == "/redirect":
            self._send(302, b"", "text/plain", {"Location": query["to"][0]})
        elif parts.path == "/html":
            kind = query.get("type", ["text/html"])[0]
            self._send(200, query["src"][0].encode(), f"{kind}; charset=utf-8")
        elif parts.path.startswith("/page/") and parts.path[6:] in PAGES:
            self._send(200, PAGES[parts.path[6:]].encode(), "text/html; charset=utf-8")
        else:
            self._json(404, {"error": "no such route"})

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _route


class LocalSite:
    """Start with `with LocalSite() as site:`; `site.url("/json")` is a full URL."""

    def __init__(self) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.server.daemon_threads = True
        self.server.seen = []  # paths requested so far, in order
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def seen(self) -> list[str]:
        return self.server.seen

    def url(self, path: str = "") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def __enter__(self) -> "LocalSite":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


def run_case(case, *, validate: bool = True, **options):
    """Run `case` for real through the engine (claim, runner, lifecycle); return the refreshed
    execution and its trace steps. `validate=False`: a case saved before what it uses changed."""
    if validate:
        case.full_clean()  # what the API and the admin check on save
    execution = execution_for(case, **options)
    assert engine.run_next(worker="test-worker") == execution.pk
    execution.refresh_from_db()
    return execution, steps_of(execution)


def steps_of(execution) -> list[dict]:
    attempt = execution.attempts.order_by("-number").first()
    return trace_steps(Trace.objects.filter(attempt=attempt).first())


def process_alive(pid: int) -> bool:
    """Whether `pid` still runs (a zombie has exited: only its exit status is left)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def chromium_processes_of_runs() -> list[int]:
    """Live Chromium processes started by a browser session of this process (their profile
    folder says so), not those of a test process running beside it."""
    mark = f"ib-chromium-{os.getpid()}-".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if mark in cmdline and process_alive(int(entry.name)):
                found.append(int(entry.name))
    return found
