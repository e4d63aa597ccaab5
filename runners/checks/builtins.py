"""Built-in checks for `python` steps: is a port open, does a file say something, does a name
resolve. Network checks obey the project's allow-list like http and browser steps do: by name,
and by the address the name resolves to, which is the one they connect to."""

import re
import socket
import time
from pathlib import Path

from django.conf import settings

from runners.allowlist import host_label, resolve_allowed
from runners.checks import CheckFailed, check
from runners.waiting import action_timeout, run_interruptible

MAX_FILE_BYTES = 5 * 1024 * 1024


@check("tcp_port_open")
def tcp_port_open(ctx, *, host: str, port: int, timeout: float = 3.0) -> dict:
    """Something accepts TCP connections on host:port."""
    port = int(port)
    started = time.monotonic()

    def connect():
        # Connect to the address that was checked, not to the name (it could resolve anew).
        address = resolve_allowed(host, port, ctx.allowed_hosts)[0]
        return socket.create_connection(
            (address, port), timeout=action_timeout(ctx, float(timeout))
        )

    try:
        connection = run_interruptible(ctx, connect)
    except OSError as exc:
        raise CheckFailed(
            f"Nothing accepts connections on {host_label(host, port)}: {exc}",
            actual={"host": host, "port": port, "open": False},
            suggestion="Is the service running and listening on that address?",
        ) from None
    connection.close()
    return {
        "host": host,
        "port": port,
        "open": True,
        "connect_ms": round((time.monotonic() - started) * 1000),
    }


@check("dns_resolves")
def dns_resolves(ctx, *, name: str, expect: str | None = None) -> dict:
    """A host name resolves (optionally: to an address that includes `expect`)."""
    try:
        addresses = sorted(
            run_interruptible(ctx, lambda: resolve_allowed(name, None, ctx.allowed_hosts))
        )
    except socket.gaierror as exc:
        raise CheckFailed(f"{name} does not resolve: {exc}", actual={"name": name}) from None
    if expect is not None and str(expect) not in addresses:
        raise CheckFailed(
            f"{name} resolves to {', '.join(addresses)}, not {expect}",
            actual={"name": name, "addresses": addresses},
        )
    return {"name": name, "addresses": addresses}


def _file_roots() -> list[Path]:
    return [Path(root).resolve() for root in getattr(settings, "IB_CHECK_FILE_ROOTS", [])]


@check("file_contains")
def file_contains(ctx, *, path: str, text: str | None = None, pattern: str | None = None) -> dict:
    """A file under one of IB_CHECK_FILE_ROOTS contains `text` (or matches the regex `pattern`)."""
    if (text is None) == (pattern is None):
        raise ValueError("give exactly one of 'text' or 'pattern'")
    roots = _file_roots()
    if not roots:
        raise PermissionError(
            "file checks are switched off: list the folders they may read in IB_CHECK_FILE_ROOTS"
        )
    # Only files under the configured roots: a case must not read the worker's secrets.
    candidates = [(root, (root / path).resolve()) for root in roots]
    inside = [file for root, file in candidates if file.is_relative_to(root)]
    if not inside:
        raise PermissionError(f"{path} is outside the folders in IB_CHECK_FILE_ROOTS")
    file = next((f for f in inside if f.is_file()), None)
    if file is None:
        raise CheckFailed(
            f"No file {path} under {', '.join(map(str, roots))}", actual={"path": path}
        )
    content = file.read_bytes()[:MAX_FILE_BYTES].decode("utf-8", "replace")
    found = text in content if text is not None else re.search(pattern, content) is not None
    wanted = repr(text) if text is not None else f"/{pattern}/"
    if not found:
        raise CheckFailed(
            f"{path} does not contain {wanted}", actual={"path": path, "size": file.stat().st_size}
        )
    return {"path": path, "found": wanted}
