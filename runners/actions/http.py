"""The `http` action: one real request with httpx, then assertions on the response.

    {"action": "http", "params": {
        "method": "POST", "url": "{{ base_url }}/api/items",
        "headers": {"Accept": "application/json"}, "query": {"page": 1},
        "json": {"name": "apple"},            # or "form": {...}, or "body": "text"
        "timeout": 10, "follow_redirects": false,
        "expect": {
            "status": 201,                     # or a list of accepted codes
            "headers": {"content-type": {"contains": "json"}},
            "json": [{"path": "$.name", "equals": "apple"},
                     {"path": "$.id", "matches": "^[0-9]+$"}, {"path": "$.tags", "exists": true}],
            "body_contains": "apple", "body_matches": "\"id\": ?\\d+",
            "max_latency_ms": 500}},
     "capture": {"item_id": "json.id"}}

The target (and every redirect) must pass the project's allow-list, by name before the request
and by resolved address when connecting (_PinnedBackend). The trace keeps a trimmed request and
response; a failed step also gets the full response body as an attachment.
"""

import contextlib
import functools
import json
import ssl
import time

import certifi
import httpcore
import httpx

from executions.attachments import attachment_for_step
from executions.outcome import StepOutcome, StepStatus
from runners.allowlist import (
    HostNotAllowed,
    blocked_outcome,
    resolve_allowed,
    url_blocked_outcome,
)
from runners.context import Cancelled, RunContext
from runners.jsonpath import PathError, parse, resolve
from runners.matchers import OPERATORS, matches, one_operator, regex_error
from runners.registry import action
from runners.waiting import action_timeout, run_interruptible

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
DEFAULT_TIMEOUT_SECONDS = 30.0
MAX_TIMEOUT_SECONDS = 600
INLINE_BODY_CHARS = 8000
_PARAM_KEYS = {"method", "url", "headers", "query", "json", "form", "body", "timeout"}
_PARAM_KEYS |= {"follow_redirects", "expect"}
_EXPECT_KEYS = {"status", "headers", "json", "body_contains", "body_matches", "max_latency_ms"}
# Secrets must not end up in traces, which every project member can read.
_REDACTED = {"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key"}


class _Blocked(Exception):
    """A redirect led outside the allow-list (raised from httpx's request hook)."""

    def __init__(self, outcome: StepOutcome) -> None:
        super().__init__(outcome.error["message"])
        self.outcome = outcome


# --- validation (when a case is saved) --------------------------------------------------------


def _is_template(value: object) -> bool:
    return isinstance(value, str) and "{{" in value


def validate_http(params: dict) -> str | None:
    unknown = set(params) - _PARAM_KEYS
    if unknown:
        return f"'http' does not know {', '.join(sorted(unknown))}."
    if not isinstance(params.get("url"), str) or not params["url"].strip():
        return "'http' needs 'url'."
    method = params.get("method", "GET")
    if not isinstance(method, str) or method.upper() not in METHODS:
        return f"'method' is one of {', '.join(METHODS)}."
    if sum(key in params for key in ("json", "form", "body")) > 1:
        return "Give at most one body: 'json', 'form' or 'body'."
    for key in ("headers", "query", "form"):
        if key in params and not isinstance(params[key], dict):
            return f"'{key}' must be an object."
    if "body" in params and not isinstance(params["body"], str):
        return "'body' must be text (use 'json' for structured data)."
    timeout = params.get("timeout", DEFAULT_TIMEOUT_SECONDS)
    if not _is_template(timeout) and (
        not isinstance(timeout, int | float) or not 0 < timeout <= MAX_TIMEOUT_SECONDS
    ):
        return f"'timeout' is a number of seconds between 0 and {MAX_TIMEOUT_SECONDS}."
    return _expect_errors(params.get("expect", {}))


def _expect_errors(expect: object) -> str | None:
    if not isinstance(expect, dict):
        return "'expect' must be an object."
    unknown = set(expect) - _EXPECT_KEYS
    if unknown:
        return f"'expect' does not know {', '.join(sorted(unknown))}; use {', '.join(sorted(_EXPECT_KEYS))}."
    status = expect.get("status")
    codes = status if isinstance(status, list) else [status]
    if "status" in expect and not all(
        _is_template(c) or (isinstance(c, int) and 100 <= c <= 599) for c in codes
    ):
        return "'expect.status' is an HTTP status code or a list of them."
    headers = expect.get("headers", {})
    if not isinstance(headers, dict):
        return "'expect.headers' maps header names to a value or to {equals|contains|matches}."
    for name, spec in headers.items():
        if isinstance(spec, dict) and one_operator(spec) is None:
            return f"'expect.headers.{name}' needs exactly one of {', '.join(OPERATORS)}."
    checks = expect.get("json", [])
    if not isinstance(checks, list):
        return "'expect.json' is a list like [{'path': '$.id', 'equals': 1}]."
    for check in checks:
        error = _json_check_errors(check)
        if error:
            return error
    if "body_matches" in expect and (error := regex_error(expect["body_matches"])):
        return f"'expect.body_matches': {error}."
    latency = expect.get("max_latency_ms")
    if (
        latency is not None
        and not _is_template(latency)
        and (not isinstance(latency, int | float) or latency <= 0)
    ):
        return "'expect.max_latency_ms' is a positive number of milliseconds."
    return None


def _json_check_errors(check: object) -> str | None:
    if not isinstance(check, dict) or not isinstance(check.get("path"), str):
        return "each 'expect.json' entry needs 'path' (like '$.items[0].name')."
    try:
        parse(check["path"])
    except PathError as exc:
        return str(exc)
    if "exists" in check:
        return None if isinstance(check["exists"], bool) else "'exists' is true or false."
    found = one_operator(check)
    if found is None:
        return (
            f"'expect.json' entry {check['path']!r} needs one of {', '.join(OPERATORS)} or exists."
        )
    if found[0] == "matches" and (error := regex_error(found[1])):
        return error
    return None


# --- running ----------------------------------------------------------------------------------


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """One TLS context per process: building one loads the CA bundle (~15 ms), which would
    otherwise be paid by every step."""
    return ssl.create_default_context(cafile=certifi.where())


@action("http", validate=validate_http)
def http_request(ctx: RunContext, params: dict) -> StepOutcome:
    """Send an HTTP request (httpx) and check status, headers, JSON paths, body and latency."""
    url = params["url"]
    blocked = url_blocked_outcome(url, ctx.allowed_hosts)
    if blocked is not None:
        return blocked
    timeout = action_timeout(ctx, float(params.get("timeout", DEFAULT_TIMEOUT_SECONDS)))
    client = httpx.Client(
        transport=_pinned_transport(ctx.allowed_hosts),
        timeout=timeout,
        follow_redirects=bool(params.get("follow_redirects", False)),
        event_hooks={"request": [_allow_list_hook(ctx)]},
        trust_env=False,  # proxy variables of the worker must not reroute test traffic
    )
    ctx.on_cleanup(client.close)  # a cancel closes the connection under the request
    sent: dict = {}  # what went out, as httpcore reports it, and what came back

    def send() -> httpx.Response:
        response = client.request(**_request_args(params), extensions={"trace": _tracer(sent)})
        sent["response"] = response
        sent["elapsed_ms"] = round((time.monotonic() - started) * 1000)
        return response

    try:
        started = time.monotonic()
        response = run_interruptible(ctx, send)
        elapsed_ms = sent["elapsed_ms"]
    except Cancelled as stop:
        stop.outcome = _stopped_outcome(ctx, params, sent, stop)
        raise
    except _Blocked as blocked_redirect:
        return blocked_redirect.outcome
    except HostNotAllowed as refused:  # the name pointed outside the list (or a redirect's did)
        return blocked_outcome(str(refused), refused.host, actual={"url": url})
    except httpx.TimeoutException:
        return _error(
            "Timeout",
            f"No response from {url} within {timeout:g} s.",
            "Raise the step's 'timeout' or check why the server is slow.",
        )
    except httpx.ConnectError as exc:
        return _error(
            "ConnectError",
            f"Could not connect to {url}: {exc}",
            "Check that the server is running and the URL (host and port) is right.",
        )
    except httpx.HTTPError as exc:
        return _error(type(exc).__name__, f"{url}: {exc}")
    finally:
        client.close()
        with contextlib.suppress(ValueError):
            ctx.cleanups.remove(client.close)
    return _outcome(ctx, params, response, elapsed_ms)


def _tracer(sent: dict):
    """httpcore's trace hook: notes the moment a request's headers start going out (from then
    on, the server may act on it whatever happens to the step)."""

    def trace(event: str, info: dict) -> None:
        if event.endswith("send_request_headers.started"):
            sent["request"] = info.get("request")

    return trace


def _stopped_outcome(ctx: RunContext, params: dict, sent: dict, stop) -> StepOutcome | None:
    """What a request did before the run was stopped, so the trace says it: None if nothing
    went out (the step then counts as interrupted or skipped); its real outcome if the response
    came back; else `interrupted` with the request that was sent."""
    if "response" in sent:
        return _outcome(ctx, params, sent["response"], sent["elapsed_ms"])
    if "request" not in sent:
        return None
    request = sent["request"]
    return StepOutcome(
        status=StepStatus.INTERRUPTED,
        actual={
            "request": {"method": request.method.decode(), "url": bytes(request.url).decode()},
            "sent": True,
            "response": None,
        },
        error={
            "type": "Interrupted",
            "message": f"{stop.reason} after the request was sent, before its response came"
            " back; the server may have acted on it.",
        },
    )


def _outcome(ctx: RunContext, params: dict, response: httpx.Response, elapsed_ms: int):
    """The step's outcome from a response: every expectation checked."""
    actual = _response_record(response, elapsed_ms)
    failures = _check(params.get("expect", {}), response, actual)
    if not failures:
        return StepOutcome(actual=actual)
    outcome = StepOutcome.failed("; ".join(failures), actual=actual)
    if response.content:
        outcome.attachments.append(
            attachment_for_step(
                ctx,
                "response body",
                response.content,
                response.headers.get("content-type", "application/octet-stream"),
            )
        )
    return outcome


def _request_args(params: dict) -> dict:
    args = {
        "method": params.get("method", "GET").upper(),
        "url": params["url"],
        "headers": {str(k): str(v) for k, v in params.get("headers", {}).items()},
    }
    if params.get("query"):  # httpx would drop a query written in the URL for an empty one
        args["params"] = {str(k): _query_value(v) for k, v in params["query"].items()}
    if "json" in params:
        args["json"] = params["json"]
    elif "form" in params:
        args["data"] = {str(k): str(v) for k, v in params["form"].items()}
    elif "body" in params:
        args["content"] = params["body"].encode()
    return args


def _query_value(value: object) -> object:
    return [str(v) for v in value] if isinstance(value, list) else str(value)


class _PinnedBackend(httpcore.SyncBackend):
    """Connects to an address resolve_allowed checked, never to the name: the name is resolved
    once here, so neither a `.localhost` name that points elsewhere nor a DNS answer that changes
    between check and connect (rebinding) gets past the allow-list. TLS still verifies the
    certificate against the name (httpcore passes it as server_hostname separately)."""

    def __init__(self, patterns: list[str]) -> None:
        self.patterns = patterns

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        try:
            addresses = resolve_allowed(host, port, self.patterns)
        except OSError as exc:  # the name does not resolve: the same error as httpx's own
            raise httpcore.ConnectError(str(exc)) from exc
        last: Exception | None = None
        for address in addresses:
            try:
                return super().connect_tcp(
                    address, port, timeout, local_address, socket_options=socket_options
                )
            except httpcore.ConnectError as exc:
                last = exc
        raise last


def _pinned_transport(patterns: list[str]) -> httpx.HTTPTransport:
    transport = httpx.HTTPTransport(verify=_tls_context())
    # httpx takes no network backend, so its connection pool is replaced by one with ours
    # (the same pool it builds without a proxy); tests/executions/test_allowlist.py proves the
    # backend is the one that connects.
    transport._pool = httpcore.ConnectionPool(
        ssl_context=_tls_context(),
        max_connections=100,  # httpx's default limits
        max_keepalive_connections=20,
        keepalive_expiry=5.0,
        network_backend=_PinnedBackend(list(patterns)),
    )
    return transport


def _allow_list_hook(ctx: RunContext):
    def check(request: httpx.Request) -> None:
        outcome = url_blocked_outcome(str(request.url), ctx.allowed_hosts)
        if outcome is not None:
            raise _Blocked(outcome)

    return check


def _error(kind: str, message: str, suggestion: str = "") -> StepOutcome:
    error = {"type": kind, "message": message}
    if suggestion:
        error["suggestion"] = suggestion
    return StepOutcome(status=StepStatus.ERROR, error=error)


def _redact(headers: httpx.Headers) -> dict:
    return {k: ("[redacted]" if k.lower() in _REDACTED else v) for k, v in headers.items()}


def _response_record(response: httpx.Response, elapsed_ms: int) -> dict:
    request = response.request
    body_text = response.text
    record = {
        "request": {
            "method": request.method,
            "url": str(request.url),
            "headers": _redact(request.headers),
            "body": request.content.decode("utf-8", "replace")[:INLINE_BODY_CHARS],
        },
        "status": response.status_code,
        "reason": response.reason_phrase,
        "headers": _redact(response.headers),
        "elapsed_ms": elapsed_ms,
        "body": body_text[:INLINE_BODY_CHARS],
    }
    if len(body_text) > INLINE_BODY_CHARS:
        record["body_truncated_from"] = len(body_text)
    with contextlib.suppress(ValueError):
        record["json"] = json.loads(body_text) if body_text.strip() else None
    return record


def _check(expect: dict, response: httpx.Response, actual: dict) -> list[str]:
    """Run every assertion (all of them, so one run shows every problem); return the failures
    and keep each result in actual["assertions"]."""
    results: list[dict] = []

    def record(check: str, passed: bool, expected: object, got: object, message: str) -> None:
        results.append({"check": check, "passed": passed, "expected": expected, "actual": got})
        if not passed:
            failures.append(message)

    failures: list[str] = []
    if "status" in expect:
        codes = expect["status"] if isinstance(expect["status"], list) else [expect["status"]]
        codes = [int(c) for c in codes]
        got = response.status_code
        wanted = codes[0] if len(codes) == 1 else codes
        record("status", got in codes, wanted, got, f"status is {got}, expected {wanted}")
    for name, spec in expect.get("headers", {}).items():
        op, wanted = one_operator(spec) if isinstance(spec, dict) else ("equals", spec)
        got = response.headers.get(name)
        passed = got is not None and matches(op, got, str(wanted))
        shown = "missing" if got is None else repr(got)
        record(
            f"header {name}",
            passed,
            {op: wanted},
            got,
            f"header {name} is {shown}, expected {op} {wanted!r}",
        )
    if expect.get("json"):
        _check_json(expect["json"], actual, record)
    body = response.text
    wanted_texts = expect.get("body_contains", [])
    for text in wanted_texts if isinstance(wanted_texts, list) else [wanted_texts]:
        record("body contains", str(text) in body, text, None, f"body does not contain {text!r}")
    if "body_matches" in expect:
        pattern = str(expect["body_matches"])
        passed = matches("matches", body, pattern)
        record("body matches", passed, pattern, None, f"body does not match /{pattern}/")
    if "max_latency_ms" in expect:
        limit = float(expect["max_latency_ms"])
        got = actual["elapsed_ms"]
        record("latency", got <= limit, limit, got, f"took {got} ms, more than {limit:g} ms")
    actual["assertions"] = results
    return failures


def _check_json(checks: list[dict], actual: dict, record) -> None:
    if "json" not in actual:
        record("json", False, "a JSON body", None, "the response body is not JSON")
        return
    for check in checks:
        path = check["path"]
        found, value = resolve(actual["json"], path)
        if "exists" in check:
            wanted = bool(check["exists"])
            message = f"JSON {path} {'is missing' if wanted else 'exists'}"
            record(f"json {path}", found == wanted, {"exists": wanted}, value, message)
            continue
        op, wanted = one_operator(check)
        if not found:
            record(f"json {path}", False, {op: wanted}, None, f"JSON {path} is missing")
            continue
        passed = matches(op, value, wanted)
        message = f"JSON {path} is {json.dumps(value)[:200]}, expected {op} {wanted!r}"
        record(f"json {path}", passed, {op: wanted}, value, message)
