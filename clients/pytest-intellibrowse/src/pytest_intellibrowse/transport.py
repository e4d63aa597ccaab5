"""The one HTTP helper (urllib, standard library): a JSON or raw request with a bounded timeout,
its failures sorted into "try again later" (Unreachable) and "the server said no" (Refused)."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from typing import Any

from pytest_intellibrowse import __version__

USER_AGENT = f"pytest-intellibrowse/{__version__}"
# Statuses worth retrying: the request may not have been handled (or was, and the answer was lost);
# every write the clients send is idempotent, so sending it again is safe.
RETRYABLE = {408, 425, 429, 500, 502, 503, 504}


class Unreachable(Exception):
    """No answer, or an answer that says "later": connection refused, timeout, 5xx, 429."""

    def __init__(self, message: str, retry_after: float | None = None, *, timed_out: bool = False):
        super().__init__(message)
        self.retry_after = retry_after
        self.timed_out = timed_out  # there, but slow (not refused, not unknown)


class Refused(Exception):
    """The server answered a 4xx: sending the same request again will not help."""

    def __init__(self, status: int, body: dict):
        self.status = status
        self.body = body
        self.code = body.get("code", "") if isinstance(body, dict) else ""
        message = body.get("message") if isinstance(body, dict) else None
        super().__init__(f"HTTP {status}: {message or json.dumps(body)[:500]}")


def request(
    base_url: str,
    token: str,
    method: str,
    path: str,
    *,
    payload: Any = None,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float,
) -> tuple[int, dict]:
    """Send one request and answer (status, JSON body). Raises Unreachable or Refused."""
    sent_headers = {"Authorization": f"Token {token}", "User-Agent": USER_AGENT}
    sent_headers["Accept"] = "application/json"
    if payload is not None:
        body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
        sent_headers["Content-Type"] = "application/json; charset=utf-8"
    sent_headers.update(headers or {})
    url = base_url.rstrip("/") + path
    if not url.startswith(("http://", "https://")):  # never file: or another scheme of urllib's
        raise ValueError(f"Not an http(s) address: {url!r}")
    req = urllib.request.Request(url, data=body, headers=sent_headers, method=method)  # noqa: S310
    try:
        with urllib.request.urlopen(req, timeout=timeout) as response:  # noqa: S310 (checked above)
            return response.status, _json(response.read())
    except urllib.error.HTTPError as error:
        answer = _json(_read(error))
        if error.code in RETRYABLE:
            raise Unreachable(
                f"HTTP {error.code} from {url}", _retry_after(error.headers.get("Retry-After"))
            ) from None
        raise Refused(error.code, answer) from None
    except (urllib.error.URLError, OSError, ValueError) as error:
        # URLError wraps refused connections and DNS failures; OSError covers timeouts while
        # reading and connections reset; ValueError an answer cut short (http.client).
        reason = getattr(error, "reason", error)
        slow = isinstance(reason, (TimeoutError, socket.timeout))
        raise Unreachable(f"{url}: {reason}", timed_out=slow) from None


def _read(error: urllib.error.HTTPError) -> bytes:
    try:
        return error.read()
    except OSError:
        return b""


def _json(raw: bytes) -> dict:
    try:
        value = json.loads(raw or b"{}")
    except ValueError:
        return {"message": raw[:300].decode(errors="replace")}
    return value if isinstance(value, dict) else {"value": value}


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None
