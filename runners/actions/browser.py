"""The `browser` action: one Playwright command in headless Chromium per step.

    {"action": "browser", "params": {"do": "goto", "url": "{{ base_url }}/demo/"}}
    {"action": "browser", "params": {"do": "fill", "selector": "#name", "value": "Ada"}}
    {"action": "browser", "params": {"do": "expect_text", "selector": "#greeting", "text": "Hello"}}

Every `do` and its parameters are listed in COMMANDS (and in docs/runners.md). All steps of an
execution share one browser context (cookies and the page carry over), created on the first
browser step and closed by the run's clean-ups, so a cancel kills it. A failed step gets a
screenshot. When the allow-list stops the page itself (a redirect or a link to a host outside
it), the step is a HostNotAllowed error naming the host; when it only stops something the page
loads (an image, a fetch, a WebSocket), a passing step becomes a warning that names them.
"""

import re

from executions.attachments import attachment_for_step
from executions.outcome import StepOutcome, StepStatus
from runners.allowlist import blocked_outcome, host_label, url_blocked_outcome
from runners.browser_session import BrowserError, BrowserSession, host_port
from runners.context import RunContext
from runners.matchers import OPERATORS, one_operator, regex_error
from runners.registry import action
from runners.waiting import action_timeout

DEFAULT_TIMEOUT_SECONDS = 10.0
MAX_TIMEOUT_SECONDS = 600
WAIT_STATES = ("visible", "hidden", "attached", "detached")
LOAD_STATES = ("load", "domcontentloaded", "networkidle", "commit")
_VARIABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

# do -> (required params, optional params)
COMMANDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "goto": (("url",), ("wait_until",)),
    "click": (("selector",), ()),
    "fill": (("selector", "value"), ()),
    "select": (("selector", "value"), ()),
    "press": (("key",), ("selector",)),
    "wait_for": (("selector",), ("state",)),
    "expect_text": (("text",), ("selector", "exact")),
    "expect_visible": (("selector",), ()),
    "expect_hidden": (("selector",), ()),
    "expect_url": ((), OPERATORS),
    "expect_title": ((), OPERATORS),
    "text": (("selector",), ("as",)),
    "screenshot": ((), ("name", "full_page")),
}


def validate_browser(params: dict) -> str | None:
    do = params.get("do")
    if do not in COMMANDS:
        return f"'browser' needs 'do', one of {', '.join(COMMANDS)}."
    required, optional = COMMANDS[do]
    missing = [key for key in required if key not in params]
    if missing:
        return f"browser '{do}' needs {', '.join(repr(k) for k in missing)}."
    unknown = set(params) - {"do", "timeout", *required, *optional}
    if unknown:
        return f"browser '{do}' does not know {', '.join(sorted(unknown))}."
    if do in ("expect_url", "expect_title"):
        found = one_operator(params)
        if found is None:
            return f"browser '{do}' needs exactly one of {', '.join(OPERATORS)}."
        if found[0] == "matches" and (error := regex_error(found[1])):
            return error
    if do == "select" and not isinstance(params["value"], str | list):
        return "browser 'select' takes a 'value' (text) or a list of values."
    if params.get("state", "visible") not in WAIT_STATES:
        return f"'state' is one of {', '.join(WAIT_STATES)}."
    if params.get("wait_until", "load") not in LOAD_STATES:
        return f"'wait_until' is one of {', '.join(LOAD_STATES)}."
    if "as" in params and not _VARIABLE_NAME.match(str(params["as"])):
        return "'as' is a variable name (letters, digits, _)."
    timeout = params.get("timeout", DEFAULT_TIMEOUT_SECONDS)
    if not isinstance(timeout, int | float) or not 0 < timeout <= MAX_TIMEOUT_SECONDS:
        return f"'timeout' is a number of seconds between 0 and {MAX_TIMEOUT_SECONDS}."
    return None


def session_for(ctx: RunContext) -> BrowserSession:
    """The execution's browser, started on first use; the run's clean-ups close it."""
    session = ctx.resources.get("browser")
    if session is None:
        session = BrowserSession(ctx.allowed_hosts)
        ctx.resources["browser"] = session
        ctx.on_cleanup(session.close)
        try:
            session.start(ctx)
        except BaseException:
            ctx.resources.pop("browser", None)  # the next browser step tries a fresh one
            session.close()
            raise
    return session


@action("browser", validate=validate_browser)
def browser_step(ctx: RunContext, params: dict) -> StepOutcome:
    """Drive headless Chromium (Playwright): goto, click, fill, select, press, wait, expect, screenshot."""
    do = params["do"]
    if do == "goto":
        blocked = url_blocked_outcome(params["url"], ctx.allowed_hosts)
        if blocked is not None:
            return blocked
    try:
        session = session_for(ctx)
    except BrowserError as exc:
        return StepOutcome(
            status=StepStatus.ERROR,
            error={
                "type": "BrowserError",
                "message": str(exc),
                "suggestion": "Install Chromium on the worker or set IB_BROWSER_EXECUTABLE.",
            },
        )
    timeout = action_timeout(ctx, float(params.get("timeout", DEFAULT_TIMEOUT_SECONDS)))
    session.take_blocked()
    outcome = _perform(ctx, session, do, params, timeout)
    refused, navigations = session.take_blocked()
    blocked = [r.url for r in refused]
    stopped = _refused_navigation(refused, navigations)
    if stopped is not None:
        outcome = _navigation_refused_outcome(ctx, session, stopped, outcome)
    elif blocked and outcome.status == StepStatus.PASSED:
        outcome.status = StepStatus.WARNING
        outcome.error = {
            "type": "RequestsBlocked",
            "message": f"The allow-list blocked {len(blocked)} request(s): {', '.join(blocked[:5])}",
            "suggestion": "Add their hosts to the project's allowed hosts if the page needs them.",
        }
    if isinstance(outcome.actual, dict) and blocked:
        outcome.actual["blocked_requests"] = blocked[:50]
    if outcome.status in (StepStatus.FAILED, StepStatus.ERROR) and do != "screenshot":
        _attach_screenshot(ctx, session, outcome)
    return outcome


def _refused_navigation(refused, navigations: list[str]):
    """The refusal that stopped the page itself, if any: one whose host and port are those of a
    main-frame navigation of this step (the proxy knows a tunnel only by host and port)."""
    targets = {host_port(url) for url in navigations}
    return next((r for r in refused if (r.host, r.port) in targets), None)


def _navigation_refused_outcome(ctx, session, refusal, performed: StepOutcome) -> StepOutcome:
    outcome = blocked_outcome(
        f"The page was sent to {host_label(refusal.host, refusal.port)}, and the allow-list "
        f"refused it: {refusal.message}",
        refusal.host,
        actual={**(_page_state(ctx, session) or {}), "refused_url": refusal.url},
    )
    outcome.attachments = performed.attachments
    return outcome


def _perform(ctx, session: BrowserSession, do: str, params: dict, timeout: float) -> StepOutcome:
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    command = _COMMANDS[do]
    try:
        actual = session.call(
            ctx, lambda page: command(page, params, timeout * 1000), timeout=timeout + 5
        )
    except AssertionError as exc:  # playwright's expect(): the page is not as expected
        return StepOutcome.failed(_first_lines(str(exc)), actual=_page_state(ctx, session))
    except PlaywrightTimeout as exc:
        return StepOutcome.failed(
            _first_lines(str(exc)),
            actual=_page_state(ctx, session),
            suggestion="Check the selector, or raise the step's 'timeout' if the page is slow.",
        )
    except PlaywrightError as exc:
        return StepOutcome(
            status=StepStatus.ERROR,
            actual=_page_state(ctx, session),
            error={"type": "BrowserError", "message": _first_lines(str(exc))},
        )
    outcome = StepOutcome(actual=actual)
    if do == "text" and "as" in params:
        outcome.captured = {params["as"]: actual["text"]}
    if do == "screenshot":
        png = actual.pop("png")
        name = f"{params.get('name') or 'screenshot'}.png"
        outcome.attachments.append(attachment_for_step(ctx, name, png, "image/png"))
    return outcome


def _first_lines(message: str, count: int = 6) -> str:
    return "\n".join(message.strip().splitlines()[:count])


def _page_state(ctx, session: BrowserSession) -> dict | None:
    """Where the page was when the step went wrong (best effort: the page may be gone)."""
    try:
        return session.call(ctx, lambda page: {"url": page.url, "title": page.title()}, timeout=5)
    except Exception:
        return None


def _attach_screenshot(ctx, session: BrowserSession, outcome: StepOutcome) -> None:
    try:
        png = session.call(ctx, lambda page: page.screenshot(type="png", timeout=5000), timeout=10)
    except Exception:
        return  # the browser may be what failed; the step's error already says so
    outcome.attachments.append(attachment_for_step(ctx, "failure.png", png, "image/png"))


# --- the commands: run on the browser thread, get the page ------------------------------------


def _goto(page, params, timeout_ms):
    response = page.goto(
        params["url"], wait_until=params.get("wait_until", "load"), timeout=timeout_ms
    )
    return {"url": page.url, "title": page.title(), "status": response.status if response else None}


def _click(page, params, timeout_ms):
    page.locator(params["selector"]).first.click(timeout=timeout_ms)
    return {"url": page.url}


def _fill(page, params, timeout_ms):
    page.locator(params["selector"]).first.fill(str(params["value"]), timeout=timeout_ms)
    return {"selector": params["selector"], "value": str(params["value"])}


def _select(page, params, timeout_ms):
    value = params["value"]
    values = [str(v) for v in value] if isinstance(value, list) else str(value)
    chosen = page.locator(params["selector"]).first.select_option(values, timeout=timeout_ms)
    return {"selected": chosen}


def _press(page, params, timeout_ms):
    if params.get("selector"):
        page.locator(params["selector"]).first.press(params["key"], timeout=timeout_ms)
    else:
        page.keyboard.press(params["key"])
    return {"key": params["key"], "url": page.url}


def _wait_for(page, params, timeout_ms):
    state = params.get("state", "visible")
    page.locator(params["selector"]).first.wait_for(state=state, timeout=timeout_ms)
    return {"selector": params["selector"], "state": state}


def _expect_text(page, params, timeout_ms):
    from playwright.sync_api import expect

    locator = page.locator(params.get("selector") or "body").first
    text = str(params["text"])
    if params.get("exact"):
        expect(locator).to_have_text(text, timeout=timeout_ms)
    else:
        expect(locator).to_contain_text(text, timeout=timeout_ms)
    return {"text": locator.inner_text(timeout=timeout_ms)[:2000]}


def _expect_visible(page, params, timeout_ms):
    from playwright.sync_api import expect

    expect(page.locator(params["selector"]).first).to_be_visible(timeout=timeout_ms)
    return {"selector": params["selector"], "visible": True}


def _expect_hidden(page, params, timeout_ms):
    from playwright.sync_api import expect

    expect(page.locator(params["selector"]).first).to_be_hidden(timeout=timeout_ms)
    return {"selector": params["selector"], "visible": False}


def _pattern(params) -> object:
    op, wanted = one_operator(params)
    if op == "equals":
        return str(wanted)
    return re.compile(re.escape(str(wanted)) if op == "contains" else str(wanted))


def _expect_url(page, params, timeout_ms):
    from playwright.sync_api import expect

    expect(page).to_have_url(_pattern(params), timeout=timeout_ms)
    return {"url": page.url}


def _expect_title(page, params, timeout_ms):
    from playwright.sync_api import expect

    expect(page).to_have_title(_pattern(params), timeout=timeout_ms)
    return {"title": page.title()}


def _text(page, params, timeout_ms):
    return {"text": page.locator(params["selector"]).first.inner_text(timeout=timeout_ms)}


def _screenshot(page, params, timeout_ms):
    png = page.screenshot(type="png", full_page=bool(params.get("full_page")), timeout=timeout_ms)
    return {"url": page.url, "png": png}


_COMMANDS = {
    "goto": _goto,
    "click": _click,
    "fill": _fill,
    "select": _select,
    "press": _press,
    "wait_for": _wait_for,
    "expect_text": _expect_text,
    "expect_visible": _expect_visible,
    "expect_hidden": _expect_hidden,
    "expect_url": _expect_url,
    "expect_title": _expect_title,
    "text": _text,
    "screenshot": _screenshot,
}
assert set(_COMMANDS) == set(COMMANDS)  # the validator and the commands list the same verbs
