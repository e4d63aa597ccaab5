"""The `browser` action in real headless Chromium against pages served on loopback.

Skipped only when Chromium is missing and IB_REQUIRE_BROWSER is unset (CI sets it, so there the
browser tests always run)."""

import pytest
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage

from executions.models import ExecutionStatus
from tests.executions.local_site import (
    LocalSite,
    chromium_processes_of_runs,
    needs_browser,
    run_case,
)
from tests.factories import TestCaseFactory

S = ExecutionStatus
pytestmark = [pytest.mark.django_db, pytest.mark.browser, needs_browser]


@pytest.fixture(scope="module")
def site():
    with LocalSite() as running:
        yield running


def browser_case(project, *steps):
    return TestCaseFactory(
        project=project,
        steps=[
            s if "action" in s else {"name": s["do"], "action": "browser", "params": s}
            for s in steps
        ],
    )


def test_a_form_is_driven_end_to_end(project, site):
    case = browser_case(
        project,
        {"do": "goto", "url": site.url("/page/form")},
        {"do": "expect_title", "equals": "Order form"},
        {"do": "expect_url", "contains": "/page/form"},
        {"do": "fill", "selector": "#name", "value": "Ada"},
        {"do": "select", "selector": "#size", "value": "l"},
        {"do": "fill", "selector": "#qty", "value": "3"},
        {"do": "click", "selector": "#go"},
        {"do": "expect_visible", "selector": "#result"},
        {"do": "expect_text", "selector": "#result", "text": "Ordered 3 x l for Ada"},
        {"do": "expect_url", "matches": r"done=1$"},
        {"do": "wait_for", "selector": "#late", "state": "visible"},
        {"do": "text", "selector": "#heading", "as": "heading"},
        {
            "name": "heading captured",
            "action": "assert",
            "params": {"variable": "heading", "equals": "Order"},
        },
        {"do": "fill", "selector": "#name", "value": "Bob"},
        {"do": "press", "selector": "#name", "key": "Enter"},
        {"do": "expect_text", "selector": "#result", "text": "for Bob", "exact": False},
        {"do": "screenshot", "name": "after order"},
    )
    execution, steps = run_case(case)

    assert execution.status == S.PASSED, [s["error"] for s in steps if s["error"]]
    assert [s["status"] for s in steps] == ["passed"] * len(steps), steps[0]["error"]
    assert steps[0]["actual"]["status"] == 200
    assert steps[11]["actual"]["text"] == "Order"
    (shot,) = steps[-1]["attachments"]
    assert shot["name"] == "after order.png"
    assert shot["content_type"] == "image/png"
    with default_storage.open(shot["path"]) as stored:
        assert stored.read(8) == b"\x89PNG\r\n\x1a\n"
    assert chromium_processes_of_runs() == []  # the run's clean-up closed the browser


def test_a_failed_expectation_fails_and_attaches_a_screenshot(project, site):
    case = browser_case(
        project,
        {"do": "goto", "url": site.url("/page/form")},
        {"do": "expect_text", "selector": "#heading", "text": "Checkout", "timeout": 0.5},
    )
    execution, steps = run_case(case)

    assert execution.status == S.FAILED
    failed = steps[1]
    assert failed["status"] == "failed"
    assert "Checkout" in failed["error"]["message"]
    assert failed["actual"] == {"url": site.url("/page/form"), "title": "Order form"}
    assert [a["name"] for a in failed["attachments"]] == ["failure.png"]


def test_a_missing_element_fails_with_a_suggestion(project, site):
    case = browser_case(
        project,
        {"do": "goto", "url": site.url("/page/form")},
        {"do": "click", "selector": "#does-not-exist", "timeout": 0.5},
    )
    execution, steps = run_case(case)

    assert execution.status == S.FAILED
    assert steps[1]["status"] == "failed"
    assert "Check the selector" in steps[1]["error"]["suggestion"]


def test_expectations_pass_and_fail(project, site):
    # One run for all of them (continue_on_failure), so the browser starts once.
    expectations = [
        ({"do": "expect_title", "contains": "form"}, "passed"),
        ({"do": "expect_title", "matches": "^Order"}, "passed"),
        ({"do": "expect_title", "equals": "Other"}, "failed"),
        ({"do": "expect_hidden", "selector": "#result"}, "passed"),
        ({"do": "expect_visible", "selector": "#result"}, "failed"),
        ({"do": "expect_url", "equals": site.url("/page/form")}, "passed"),
        ({"do": "expect_text", "text": "Order", "exact": True, "selector": "h1"}, "passed"),
    ]
    case = browser_case(project, {"do": "goto", "url": site.url("/page/form")})
    case.steps += [
        {
            "name": e["do"],
            "action": "browser",
            "params": {**e, "timeout": 0.5},
            "continue_on_failure": True,
        }
        for e, _ in expectations
    ]
    case.save()
    execution, steps = run_case(case)

    assert [s["status"] for s in steps[1:]] == [wanted for _, wanted in expectations]
    assert execution.status == S.FAILED


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({}, "needs 'do'"),
        ({"do": "hover", "selector": "a"}, "needs 'do'"),
        ({"do": "click"}, "needs 'selector'"),
        ({"do": "fill", "selector": "#a"}, "needs 'value'"),
        ({"do": "goto", "url": "http://x", "colour": "red"}, "does not know colour"),
        ({"do": "expect_url"}, "exactly one of"),
        ({"do": "expect_title", "matches": "("}, "invalid regular expression"),
        ({"do": "wait_for", "selector": "a", "state": "gone"}, "'state' is one of"),
        ({"do": "text", "selector": "a", "as": "no spaces"}, "'as' is a variable name"),
        ({"do": "click", "selector": "a", "timeout": -1}, "'timeout' is a number"),
    ],
)
def test_bad_params_are_refused_when_the_case_is_saved(project, params, message):
    case = TestCaseFactory(project=project, steps=[{"action": "browser", "params": params}])
    with pytest.raises(ValidationError, match=message):
        case.full_clean()
