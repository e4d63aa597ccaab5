"""The `http` action against a real server on loopback: every assertion passing and failing, the
request shapes, captures, errors, and validation when a case is saved."""

import pytest
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage

from executions.models import ExecutionStatus
from tests.executions.local_site import LocalSite, run_case
from tests.factories import TestCaseFactory

S = ExecutionStatus
pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def site():
    with LocalSite() as running:
        yield running


def http_case(project, *steps):
    return TestCaseFactory(
        project=project,
        steps=[{"name": f"request {i}", "action": "http", **s} for i, s in enumerate(steps, 1)],
    )


def run_one(project, params, **step):
    execution, steps = run_case(http_case(project, {"params": params, **step}))
    return execution, steps[0]


# --- status ---------------------------------------------------------------------------------


def test_status_assertion_passes(project, site):
    execution, step = run_one(project, {"url": site.url("/json"), "expect": {"status": 200}})

    assert execution.status == S.PASSED
    assert step["status"] == "passed"
    assert step["actual"]["status"] == 200
    assert step["actual"]["assertions"] == [
        {"check": "status", "passed": True, "expected": 200, "actual": 200}
    ]


def test_status_assertion_fails_with_both_codes_in_the_message(project, site):
    execution, step = run_one(project, {"url": site.url("/status/404"), "expect": {"status": 200}})

    assert execution.status == S.FAILED
    assert step["status"] == "failed"
    assert step["error"]["message"] == "status is 404, expected 200"
    assert "status is 404" in execution.status_reason


def test_status_may_be_a_list_of_accepted_codes(project, site):
    _, step = run_one(project, {"url": site.url("/status/201"), "expect": {"status": [200, 201]}})
    assert step["status"] == "passed"


# --- headers --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "passes"),
    [
        ("trace-42", True),
        ("trace-43", False),
        ({"contains": "json"}, True),
        ({"contains": "xml"}, False),
        ({"matches": r"^trace-\d+$"}, True),
        ({"matches": r"^\d+$"}, False),
    ],
)
def test_header_assertions(project, site, spec, passes):
    name = "X-Trace" if not isinstance(spec, dict) or "matches" in spec else "content-type"
    _, step = run_one(project, {"url": site.url("/json"), "expect": {"headers": {name: spec}}})

    assert step["status"] == ("passed" if passes else "failed")
    if not passes:
        assert step["error"]["message"].startswith(f"header {name} is ")


def test_a_missing_header_fails(project, site):
    _, step = run_one(project, {"url": site.url("/json"), "expect": {"headers": {"X-None": "1"}}})

    assert step["status"] == "failed"
    assert step["error"]["message"] == "header X-None is missing, expected equals '1'"


# --- JSON paths -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("check", "passes"),
    [
        ({"path": "$.count", "equals": 2}, True),
        ({"path": "$.count", "equals": 3}, False),
        ({"path": "$.items[0].name", "equals": "apple"}, True),
        ({"path": "items.1.name", "equals": "bread"}, True),
        ({"path": "$.items[-1].id", "equals": 2}, True),
        ({"path": "$.items[0].tags", "contains": "fruit"}, True),
        ({"path": "$.items[0].tags", "contains": "meat"}, False),
        ({"path": "$.token", "contains": "123"}, True),
        ({"path": "$.token", "matches": r"^tok-\d{3}$"}, True),
        ({"path": "$.token", "matches": r"^\d+$"}, False),
        ({"path": "$.ok", "equals": True}, True),
        ({"path": "$.items[0].id", "exists": True}, True),
        ({"path": "$.items[5]", "exists": False}, True),
        ({"path": "$.nothing", "exists": True}, False),
        ({"path": "$.nothing", "equals": 1}, False),
    ],
)
def test_json_path_assertions(project, site, check, passes):
    _, step = run_one(project, {"url": site.url("/json"), "expect": {"json": [check]}})

    assert step["status"] == ("passed" if passes else "failed"), step["error"]
    assert step["actual"]["assertions"][0]["passed"] is passes


def test_every_failed_assertion_is_reported_not_only_the_first(project, site):
    _, step = run_one(
        project,
        {
            "url": site.url("/json"),
            "expect": {
                "status": 201,
                "json": [{"path": "$.count", "equals": 9}, {"path": "$.token", "exists": True}],
            },
        },
    )

    assert (
        step["error"]["message"]
        == "status is 200, expected 201; JSON $.count is 2, expected equals 9"
    )
    assert [a["passed"] for a in step["actual"]["assertions"]] == [False, False, True]


def test_json_assertion_on_a_text_body_fails_clearly(project, site):
    _, step = run_one(
        project, {"url": site.url("/text"), "expect": {"json": [{"path": "$.a", "exists": True}]}}
    )

    assert step["status"] == "failed"
    assert step["error"]["message"] == "the response body is not JSON"


# --- body and latency -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expect", "passes"),
    [
        ({"body_contains": "plain"}, True),
        ({"body_contains": ["hello", "world"]}, True),
        ({"body_contains": "goodbye"}, False),
        ({"body_matches": r"hel+o \w+ world"}, True),
        ({"body_matches": r"^world"}, False),
    ],
)
def test_body_assertions(project, site, expect, passes):
    _, step = run_one(project, {"url": site.url("/text"), "expect": expect})
    assert step["status"] == ("passed" if passes else "failed")


def test_max_latency_passes_for_a_fast_response(project, site):
    _, step = run_one(project, {"url": site.url("/json"), "expect": {"max_latency_ms": 10_000}})

    assert step["status"] == "passed"
    assert 0 <= step["actual"]["elapsed_ms"] < 10_000


def test_max_latency_fails_for_a_slow_response(project, site):
    _, step = run_one(project, {"url": site.url("/slow?ms=400"), "expect": {"max_latency_ms": 50}})

    assert step["status"] == "failed"
    assert step["actual"]["elapsed_ms"] >= 400
    assert "more than 50 ms" in step["error"]["message"]


# --- requests -------------------------------------------------------------------------------


def test_sends_method_headers_query_and_json_body(project, site):
    _, step = run_one(
        project,
        {
            "method": "post",
            "url": site.url("/echo"),
            "headers": {"X-Team": "qa"},
            "query": {"page": 2, "tag": ["a", "b"]},
            "json": {"name": "apple"},
            "expect": {
                "json": [
                    {"path": "$.method", "equals": "POST"},
                    {"path": "$.headers.x-team", "equals": "qa"},
                    {"path": "$.headers.content-type", "equals": "application/json"},
                    {"path": "$.query.page", "equals": "2"},
                    {"path": "$.query.tag", "equals": ["a", "b"]},
                    {"path": "$.body", "equals": '{"name":"apple"}'},
                ]
            },
        },
    )

    assert step["status"] == "passed", step["error"]
    assert step["actual"]["request"]["method"] == "POST"
    assert step["actual"]["request"]["body"] == '{"name":"apple"}'


def test_sends_a_form_body(project, site):
    _, step = run_one(
        project,
        {
            "method": "PUT",
            "url": site.url("/echo"),
            "form": {"a": "1", "b": "two words"},
            "expect": {"json": [{"path": "$.body", "equals": "a=1&b=two+words"}]},
        },
    )
    assert step["status"] == "passed", step["error"]


def test_secret_headers_are_redacted_in_the_trace(project, site):
    _, step = run_one(
        project, {"url": site.url("/echo"), "headers": {"Authorization": "Bearer s3cret"}}
    )

    assert step["actual"]["request"]["headers"]["authorization"] == "[redacted]"
    assert "s3cret" not in str(step["actual"]["request"])


def test_a_captured_value_is_used_by_a_later_step(project, site):
    case = http_case(
        project,
        {"params": {"url": site.url("/json")}, "capture": {"token": "json.token"}},
        {
            "params": {
                "url": site.url("/echo?token={{ token }}"),
                "expect": {"json": [{"path": "$.query.token", "equals": "tok-123"}]},
            }
        },
    )
    execution, steps = run_case(case)

    assert execution.status == S.PASSED, steps[1]["error"]
    assert steps[1]["input"]["url"].endswith("/echo?token=tok-123")


def test_run_parameters_fill_the_url(project, site):
    case = http_case(project, {"params": {"url": "{{ base_url }}/json", "expect": {"status": 200}}})
    execution, steps = run_case(case, parameters={"base_url": site.url()})

    assert execution.status == S.PASSED
    assert steps[0]["actual"]["request"]["url"] == site.url("/json")


def test_an_unset_variable_in_the_url_is_an_error_that_names_it(project, site):
    execution, step = run_one(project, {"url": "{{ base_url }}/json"})

    assert execution.status == S.ERROR
    assert step["error"]["type"] == "UnsetVariable"
    assert "base_url" in step["error"]["message"]


def test_a_failed_step_attaches_the_full_response_body(project, site):
    _, step = run_one(project, {"url": site.url("/json"), "expect": {"status": 500}})

    (attachment,) = step["attachments"]
    assert attachment["name"] == "response body"
    # The type is sniffed from the bytes (executions.attachments), not taken from the site.
    assert attachment["content_type"] == "text/plain"
    with default_storage.open(attachment["path"]) as stored:
        assert b'"token": "tok-123"' in stored.read()


# --- errors ---------------------------------------------------------------------------------


def test_connection_refused_is_an_error_with_a_suggestion(project):
    with LocalSite() as closed:
        url = closed.url("/json")
    execution, step = run_one(project, {"url": url})

    assert execution.status == S.ERROR
    assert step["status"] == "error"
    assert step["error"]["type"] == "ConnectError"
    assert "server is running" in step["error"]["suggestion"]


def test_a_response_slower_than_the_timeout_is_an_error(project, site):
    _, step = run_one(project, {"url": site.url("/slow?ms=1500"), "timeout": 0.3})

    assert step["status"] == "error"
    assert step["error"]["type"] == "Timeout"
    assert step["duration_ms"] < 1500


def test_later_steps_are_skipped_after_a_failure(project, site):
    case = http_case(
        project,
        {"params": {"url": site.url("/json"), "expect": {"status": 500}}},
        {"params": {"url": site.url("/json")}},
    )
    _, steps = run_case(case)

    assert [s["status"] for s in steps] == ["failed", "skipped"]


# --- validation when a case is saved --------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({}, "'http' needs 'url'"),
        ({"url": "http://x", "method": "FETCH"}, "'method' is one of"),
        ({"url": "http://x", "json": {}, "body": "b"}, "at most one body"),
        ({"url": "http://x", "expect": {"status": "ok"}}, "HTTP status code"),
        ({"url": "http://x", "expect": {"colour": 1}}, "does not know colour"),
        ({"url": "http://x", "expect": {"json": [{"path": "$.a"}]}}, "needs one of"),
        ({"url": "http://x", "expect": {"body_matches": "("}}, "invalid regular expression"),
        ({"url": "http://x", "timeout": 0}, "'timeout' is a number"),
        ({"url": "http://x", "verb": "GET"}, "does not know verb"),
    ],
)
def test_bad_params_are_refused_when_the_case_is_saved(project, params, message):
    case = http_case(project, {"params": params})
    with pytest.raises(ValidationError, match=message):
        case.full_clean()
