"""Which hosts HTTP, browser and network-check steps may reach: the project's allow-list.

`Project.allowed_hosts` holds patterns: 'api.example.com' (any port), '*.example.com' (any
subdomain, not the bare domain), '127.0.0.1:8000' (that port only), '[::1]:8000' for IPv6.
Loopback addresses (127.0.0.0/8, ::1) are always allowed, so the demo works out of the box.

Two layers, because a name is not an address:
- `host_allowed` / `url_block_reason` judge the name in a URL: quick, no DNS, for the early
  refusal with a clear message. Names that only *look* local (localhost, anything under
  .localhost) pass this layer: what they resolve to decides, below.
- `resolve_allowed` is what every connection goes through: it resolves the name once, checks
  every address it got (a name outside the patterns passes only if all its addresses are
  allowed, i.e. loopback or an address pattern), and returns the addresses; the caller connects
  to one of those, never to the name again, so a second DNS answer (DNS rebinding) cannot send
  the connection somewhere that was not checked.
Used by actions/http.py (a network backend under httpx: every request and redirect),
browser_proxy.py (the proxy every request of the browser goes through) and checks/builtins.py.
"""

import ipaddress
import re
import socket
from urllib.parse import urlsplit

from executions.outcome import StepOutcome, StepStatus
from runners.loopback_guard import held_by_another_run

_LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}
_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
_VARIABLE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_.]*)\s*\}\}")


class HostNotAllowed(Exception):
    """For code outside the actions (a check) that meets a host outside the allow-list; the
    `python` action turns it into the same step error as http and browser steps give."""

    def __init__(self, host: str, port: int | None = None, addresses: list[str] = ()) -> None:
        message = f"{host_label(host, port)} is not in the project's allowed hosts."
        if addresses:
            message = (
                f"{host_label(host, port)} resolves to {', '.join(addresses)}, which is not in "
                "the project's allowed hosts."
            )
        super().__init__(message)
        self.host = host
        self.port = port


class AnotherRunsPort(HostNotAllowed):
    """A loopback port that another run's browser or command listens on (loopback_guard)."""

    def __init__(self, host: str, port: int | None) -> None:
        super().__init__(host, port)
        self.args = (
            f"{host_label(host, port)} belongs to another run (its browser or command listens "
            "there); steps may not reach it.",
        )


def resolve_allowed(host: str, port: int | None, patterns: list[str]) -> list[str]:
    """The addresses of `host` a step may connect to (in the resolver's order); connect to one
    of these, not to the name. Raises HostNotAllowed, or socket.gaierror when the name does not
    resolve."""
    name = _normal(host)
    if not host_allowed(name, port, patterns):
        raise HostNotAllowed(name, port)
    if _is_address(name):
        addresses = [name]
    else:
        infos = socket.getaddrinfo(name, port, type=socket.SOCK_STREAM)
        addresses = list(dict.fromkeys(info[4][0].split("%")[0] for info in infos))
        refused = [a for a in addresses if not host_allowed(a, port, patterns)]
        # A host the project named may point anywhere: that is its choice.
        if not _matches_pattern(name, port, patterns) and (refused or not addresses):
            raise HostNotAllowed(name, port, refused)
    if any(is_loopback(a) for a in addresses) and held_by_another_run(port):
        raise AnotherRunsPort(name, port)
    return addresses


def require_allowed(host: str, port: int | None, patterns: list[str]) -> list[str]:
    """resolve_allowed under the name custom checks were told to call (docs/runners.md); the
    returned addresses are the ones to connect to."""
    return resolve_allowed(host, port, patterns)


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _normal(host: str) -> str:
    return host.strip().strip("[]").rstrip(".").lower()


def is_loopback(host: str) -> bool:
    """Loopback by name or address. A name is only a claim: resolve_allowed checks where it
    points before anything connects."""
    host = _normal(host)
    if host in _LOOPBACK_NAMES or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _split_pattern(pattern: str) -> tuple[str, int | None]:
    """'api.example.com:8443' -> ('api.example.com', 8443); '[::1]:80' -> ('::1', 80)."""
    pattern = pattern.strip().lower()
    if pattern.startswith("["):
        host, _, rest = pattern[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    elif pattern.count(":") == 1:
        host, port = pattern.split(":")
    else:
        host, port = pattern, ""  # a bare IPv6 address has several colons and no port
    return _normal(host), int(port) if port.isdigit() else None


def host_allowed(host: str, port: int | None, patterns: list[str]) -> bool:
    host = _normal(host)
    if not host:
        return False
    return is_loopback(host) or _matches_pattern(host, port, patterns)


def _matches_pattern(host: str, port: int | None, patterns: list[str]) -> bool:
    host = _normal(host)
    for pattern in patterns:
        allowed_host, allowed_port = _split_pattern(pattern)
        if allowed_port is not None and allowed_port != port:
            continue
        if allowed_host.startswith("*."):
            if host.endswith(allowed_host[1:]):
                return True
        elif host == allowed_host:
            return True
    return False


def url_block_reason(url: str, patterns: list[str]) -> tuple[str, str] | None:
    """Why a step may not reach `url` as (message, host), or None when it may. `host` is empty
    when the URL itself is unusable. Only http(s) and ws(s) URLs are reachable at all: file:,
    ftp: and the like would read the worker's own disk or network."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return f"{url!r} is not a valid URL.", ""
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        return f"{url!r}: only http and https URLs can be reached.", ""
    host = parts.hostname or ""
    if not host:
        return f"{url!r} has no host.", ""
    if not host_allowed(host, port or _DEFAULT_PORTS[scheme], patterns):
        return f"{host_label(host, port)} is not in the project's allowed hosts.", host
    return None


def host_label(host: str, port: int | None) -> str:
    host = _normal(host)
    shown = f"[{host}]" if ":" in host else host
    return f"{shown}:{port}" if port else shown


def blocked_outcome(message: str, host: str, *, actual: object = None) -> StepOutcome:
    """The step result for a target outside the allow-list: an error (the case cannot run as
    written), with the fix spelled out."""
    return StepOutcome(
        status=StepStatus.ERROR,
        actual=actual,
        error={
            "type": "HostNotAllowed",
            "message": message,
            "suggestion": f"Add '{_normal(host)}' to the project's allowed hosts "
            "(Project -> allowed_hosts) if this step may reach it.",
        },
    )


def url_blocked_outcome(url: str, patterns: list[str]) -> StepOutcome | None:
    """None when `url` may be reached; otherwise the step's error."""
    missing = _VARIABLE.findall(url)
    if missing:
        return StepOutcome(
            status=StepStatus.ERROR,
            actual={"url": url},
            error={
                "type": "UnsetVariable",
                "message": f"The URL uses {', '.join(missing)}, which is not set.",
                "suggestion": "Pass it as a run parameter, or set or capture it in an earlier step.",
            },
        )
    found = url_block_reason(url, patterns)
    if found is None:
        return None
    message, host = found
    if host:
        return blocked_outcome(message, host, actual={"url": url})
    return StepOutcome(
        status=StepStatus.ERROR,
        actual={"url": url},
        error={"type": "InvalidURL", "message": message},
    )
