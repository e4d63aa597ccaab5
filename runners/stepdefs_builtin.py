"""Built-in step definitions: common Gherkin phrasings bound to the http and browser actions and
to variables. Listed in docs/runners.md; add your own with @step in a module of IB_STEP_MODULES.

String arguments, table cells and doc strings have {{ variables }} filled in before a definition
is called (by the BDD runner), so `When I open "{{ base_url }}/demo/"` works.
"""

import json

from executions.outcome import StepOutcome, StepStatus
from runners.actions.browser import browser_step, validate_browser
from runners.actions.http import http_request, validate_http
from runners.jsonpath import resolve
from runners.matchers import matches
from runners.stepdefs import step


def world(ctx) -> dict:
    """State that lives for one scenario (the BDD runner resets it)."""
    return ctx.resources.setdefault("world", {})


# --- variables ------------------------------------------------------------------------------


@step("I set {word} to {string}")
def set_variable(ctx, name, value):
    ctx.variables[name] = value
    return StepOutcome(actual={name: value})


@step("{word} defaults to {string}")
def default_variable(ctx, name, value):
    ctx.variables.setdefault(name, value)
    return StepOutcome(actual={name: ctx.variables[name]})


@step("the variable {word} is {string}")
def variable_is(ctx, name, expected):
    assert name in ctx.variables, f"variable {name!r} is not set"
    actual = ctx.variables[name]
    assert matches("equals", actual, expected), f"{name} is {actual!r}, expected {expected!r}"
    return StepOutcome(actual={name: actual})


@step("I wait {float} second(s)")
def wait_seconds(ctx, seconds):
    ctx.sleep(float(seconds))


# --- HTTP -----------------------------------------------------------------------------------


def _send(ctx, params: dict) -> StepOutcome:
    problem = validate_http(params)
    if problem:
        raise ValueError(problem)
    outcome = http_request(ctx, params)
    if outcome.status == StepStatus.PASSED:
        world(ctx)["response"] = outcome.actual
    return outcome


@step("I send a {word} request to {string}")
def send_request(ctx, method, url):
    return _send(ctx, {"method": method.upper(), "url": url})


@step("I send a {word} request to {string} with JSON:")
def send_json(ctx, method, url, doc):
    try:
        body = json.loads(doc)
    except ValueError as exc:
        raise ValueError(f"The doc string is not JSON: {exc}") from None
    return _send(ctx, {"method": method.upper(), "url": url, "json": body})


@step("I send a {word} request to {string} with form:")
def send_form(ctx, method, url, table):
    return _send(ctx, {"method": method.upper(), "url": url, "form": _pairs(table, "field")})


def _response(ctx) -> dict:
    response = world(ctx).get("response")
    if response is None:
        raise LookupError('No response yet: send a request first ("I send a GET request to ...").')
    return response


def _json_value(ctx, path: str):
    response = _response(ctx)
    assert "json" in response, "the response body is not JSON"
    found, value = resolve(response["json"], path)
    assert found, f"JSON {path} is missing"
    return value


def _same(actual, expected: str) -> bool:
    """Table cells and quoted strings are text; '3' equals 3 and 'true' equals True."""
    try:
        parsed = json.loads(expected)
    except ValueError:
        parsed = expected
    return actual == parsed or matches("equals", actual, expected)


@step("the response status is {int}")
def response_status(ctx, status):
    actual = _response(ctx)["status"]
    assert actual == status, f"status is {actual}, expected {status}"
    return StepOutcome(actual={"status": actual})


@step("the response body contains {string}")
def response_body_contains(ctx, text):
    assert text in _response(ctx)["body"], f"the body does not contain {text!r}"


@step("the response header {string} contains {string}")
def response_header_contains(ctx, name, text):
    headers = {k.lower(): v for k, v in _response(ctx)["headers"].items()}
    actual = headers.get(name.lower())
    assert actual is not None, f"no header {name}"
    assert text in actual, f"header {name} is {actual!r}, expected it to contain {text!r}"


@step("the response JSON {string} is {string}")
def response_json_is(ctx, path, expected):
    value = _json_value(ctx, path)
    assert _same(value, expected), f"JSON {path} is {json.dumps(value)}, expected {expected}"
    return StepOutcome(actual={path: value})


@step("the response JSON {string} contains {string}")
def response_json_contains(ctx, path, expected):
    value = _json_value(ctx, path)
    assert matches("contains", value, expected) or (
        isinstance(value, list) and any(_same(v, expected) for v in value)
    ), f"JSON {path} is {json.dumps(value)[:200]}, expected it to contain {expected!r}"
    return StepOutcome(actual={path: value})


@step("the response JSON matches:")
def response_json_matches(ctx, table):
    rows = _pairs(table, "path")
    checked = {path: _json_value(ctx, path) for path in rows}
    wrong = [
        f"{p} is {json.dumps(v)}, expected {rows[p]}"
        for p, v in checked.items()
        if not _same(v, rows[p])
    ]
    assert not wrong, "; ".join(wrong)
    return StepOutcome(actual=checked)


@step("the response time is below {int} ms")
def response_time_below(ctx, limit):
    elapsed = _response(ctx)["elapsed_ms"]
    assert elapsed < limit, f"the response took {elapsed} ms, expected below {limit} ms"


@step("I remember the response JSON {string} as {word}")
def remember_json(ctx, path, name):
    ctx.variables[name] = _json_value(ctx, path)
    return StepOutcome(actual={name: ctx.variables[name]}, captured={name: ctx.variables[name]})


def _pairs(table: list[list[str]], header: str) -> dict[str, str]:
    """A two-column table as a dict; a first row starting with `header` is a heading."""
    rows = table[1:] if table and table[0] and table[0][0].strip().lower() == header else table
    if any(len(row) != 2 for row in rows):
        raise ValueError(f"Give a table of two columns: {header} | value.")
    return {row[0]: row[1] for row in rows}


# --- browser --------------------------------------------------------------------------------


def _browser(ctx, **params) -> StepOutcome:
    problem = validate_browser(params)
    if problem:
        raise ValueError(problem)
    return browser_step(ctx, params)


@step("I open {string}")
def open_page(ctx, url):
    return _browser(ctx, do="goto", url=url)


@step("I click {string}")
def click(ctx, selector):
    return _browser(ctx, do="click", selector=selector)


@step("I fill {string} with {string}")
def fill(ctx, selector, value):
    return _browser(ctx, do="fill", selector=selector, value=value)


@step("I fill in:")
def fill_in(ctx, table):
    filled = {}
    for selector, value in _pairs(table, "field").items():
        outcome = _browser(ctx, do="fill", selector=selector, value=value)
        if outcome.status != StepStatus.PASSED:
            return outcome
        filled[selector] = value
    return StepOutcome(actual=filled)


@step("I select {string} from {string}")
def select(ctx, value, selector):
    return _browser(ctx, do="select", selector=selector, value=value)


@step("I press {string}")
def press(ctx, key):
    return _browser(ctx, do="press", key=key)


@step("the page shows {string}")
def page_shows(ctx, text):
    return _browser(ctx, do="expect_text", selector="body", text=text)


@step("the element {string} shows {string}")
def element_shows(ctx, selector, text):
    return _browser(ctx, do="expect_text", selector=selector, text=text)


@step("the element {string} is visible")
def element_visible(ctx, selector):
    return _browser(ctx, do="expect_visible", selector=selector)


@step("the page title is {string}")
def page_title(ctx, title):
    return _browser(ctx, do="expect_title", equals=title)


@step("the URL contains {string}")
def url_contains(ctx, text):
    return _browser(ctx, do="expect_url", contains=text)


@step("I take a screenshot")
def screenshot(ctx):
    return _browser(ctx, do="screenshot")


@step("I remember the text of {string} as {word}")
def remember_text(ctx, selector, name):
    return _browser(ctx, do="text", selector=selector, **{"as": name})
