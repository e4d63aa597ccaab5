"""A listener on an address of this machine that no project allows: what the allow-list tests aim
at to prove that nothing gets through.

`OutsideListener` makes a network namespace joined to ours by a veth pair (root only; the test
is skipped without it) and listens on our end of the pair: a real, non-loopback address that is
on this machine, so no packet leaves it. Every connection it accepts is recorded; a test that
expects the allow-list to hold asserts the list stays empty. The same port also takes UDP
datagrams (STUN, for WebRTC), recorded alike. `localhost_alias` adds a name under
.localhost that resolves (through /etc/hosts) to that address.
"""

import contextlib
import fcntl
import os
import shutil
import socket
import subprocess
import threading
from pathlib import Path

import pytest

HOSTS_FILE = Path("/etc/hosts")


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=30)


class OutsideListener:
    """`with OutsideListener() as outside:`; `outside.url("/x")`, `outside.accepted`."""

    def __init__(self) -> None:
        tag = f"{os.getpid() % 100000}"
        self.namespace = f"ib-out-{tag}"
        self.link = f"ibo{tag}"
        # A /30 from 10.250.0.0/16 chosen by pid, so parallel test runs do not collide.
        block = (os.getpid() % 16000) * 4
        self.address = f"10.250.{block // 256}.{block % 256 + 1}"
        self.peer = f"10.250.{block // 256}.{block % 256 + 2}"
        self.accepted: list[bytes] = []  # the first bytes of every connection
        self._server: socket.socket | None = None
        self._udp: socket.socket | None = None

    def url(self, path: str = "", scheme: str = "http") -> str:
        return f"{scheme}://{self.address}:{self.port}{path}"

    def __enter__(self) -> "OutsideListener":
        if os.geteuid() != 0 or shutil.which("ip") is None:
            pytest.skip("needs root and iproute2 to make a network namespace")
        self._cleanup()
        _ip("netns", "add", self.namespace)
        _ip("link", "add", self.link, "type", "veth", "peer", "name", f"{self.link}p")
        _ip("link", "set", f"{self.link}p", "netns", self.namespace)
        _ip("addr", "add", f"{self.address}/30", "dev", self.link)
        _ip("link", "set", self.link, "up")
        _ip("-n", self.namespace, "addr", "add", f"{self.peer}/30", "dev", f"{self.link}p")
        _ip("-n", self.namespace, "link", "set", f"{self.link}p", "up")
        self._server = socket.create_server((self.address, 0))
        self.port = self._server.getsockname()[1]
        self._udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._udp.bind((self.address, self.port))
        threading.Thread(target=self._accept, daemon=True).start()
        threading.Thread(target=self._receive, daemon=True).start()
        return self

    def _receive(self) -> None:
        while True:
            try:
                data, _ = self._udp.recvfrom(4096)
            except OSError:
                return  # closed by __exit__
            self.accepted.append(data)

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self._server.accept()
            except OSError:
                return  # closed by __exit__
            connection.settimeout(2)
            try:
                data = connection.recv(4096)
            except OSError:
                data = b""
            self.accepted.append(data)
            with contextlib.suppress(OSError):
                connection.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 22\r\n"
                    b"Connection: close\r\n\r\n<title>outside</title>"
                )
            connection.close()

    def __exit__(self, *exc) -> None:
        for sock in (self._server, self._udp):
            if sock is not None:
                sock.close()
        self._cleanup()

    def _cleanup(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            _ip("link", "del", self.link)
        with contextlib.suppress(subprocess.CalledProcessError):
            _ip("netns", "del", self.namespace)


@contextlib.contextmanager
def localhost_alias(address: str):
    """A name under .localhost that resolves to `address` (an /etc/hosts line, removed after)."""
    name = f"ib-alias-{os.getpid()}.localhost"
    line = f"{address} {name}\n"
    if not os.access(HOSTS_FILE, os.W_OK):
        pytest.skip("needs a writable /etc/hosts")
    _edit_hosts(lambda entries: [*entries, line])
    try:
        yield name
    finally:
        _edit_hosts(lambda entries: [entry for entry in entries if entry != line])


def _edit_hosts(change) -> None:
    """Rewrite /etc/hosts under an exclusive lock, so test processes running side by side do not
    drop each other's lines."""
    with HOSTS_FILE.open("r+") as hosts:
        fcntl.flock(hosts, fcntl.LOCK_EX)
        entries = change(hosts.read().splitlines(True))
        hosts.seek(0)
        hosts.write("".join(entries))
        hosts.truncate()
