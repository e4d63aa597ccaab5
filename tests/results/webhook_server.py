"""A real webhook receiver for the notification tests: an HTTP server on loopback, started by the
test, that records what it is sent. It can fail its first calls or hang (until the test ends),
the two ways a receiver outside the house misbehaves."""

import json
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Receiver:
    def __init__(self, *, fail_first: int = 0, hang: bool = False):
        self.fail_first = fail_first
        self.hang = hang
        self.received: list[dict] = []
        self.calls = 0
        self.release = threading.Event()  # set when the test ends: a hanging handler returns
        self.url = ""


def _handler(receiver: Receiver):
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            receiver.calls += 1
            if receiver.hang:
                receiver.release.wait(30)
                return
            if receiver.calls <= receiver.fail_first:
                self.send_response(503)
                self.end_headers()
                self.wfile.write(b"try later")
                return
            receiver.received.append(json.loads(body))
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    return Handler


@contextmanager
def webhook_receiver(**behaviour):
    receiver = Receiver(**behaviour)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(receiver))
    server.daemon_threads = True
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.release.set()
        server.shutdown()
        server.server_close()
