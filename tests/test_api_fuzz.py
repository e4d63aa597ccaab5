"""Schemathesis against our own OpenAPI schema: every operation, positive and negative examples,
all checks (no server error, documented status codes, response schemas, content types).

The requests go through the WSGI application in-process, authenticated as a maintainer of a
project with a case and a suite, so detail paths also meet real objects.

Some rules are a domain language no JSON schema can hold: a generic case's steps (each action has
its own parameters), a BDD case's Gherkin, which of them a case may have (its type, stored for a
PATCH), a cron expression that must fire, a suite listing each case once, a JUnit report (the
schema can only say "bytes"). The schema names them
(`format: cron`, descriptions); positive examples get valid values for them here, as schemathesis
is taught custom formats, and every check still runs on every response. Negative examples are left
as generated.
"""

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from rest_framework.authtoken.models import Token
from schemathesis.generation.feedback import FeedbackSources
from schemathesis.pytest._test_builder import build_operation_test
from schemathesis.python._constants.orchestrator import make_constants_value_source

from catalog.models import Role
from intellibrowse.wsgi import application
from tests.factories import MembershipFactory, SuiteItemFactory, TestCaseFactory

MAX_EXAMPLES = 100

# Loading the schema needs no database: drf-spectacular builds it from the code.
schema = schemathesis.openapi.from_wsgi("/api/v1/schema/", application)
# No NUL characters in generated strings: the API refuses U+0000 in any text by design (PostgreSQL
# cannot store it), which a schema cannot say of free-form JSON values, so "schema-valid" strings
# holding one would be refused; tests/test_hostile_input.py sends NUL everywhere instead.
schema.config.generation.update(
    modes=list(schemathesis.GenerationMode), max_examples=MAX_EXAMPLES, allow_x00=False
)


# Five cron fields that fire (day 1-28 fires in every month).
schemathesis.openapi.format(
    "cron",
    st.tuples(
        st.sampled_from(["*", "0", "*/5", "15,45", "0-30/10"]),
        st.sampled_from(["*", "2", "*/6", "9-17"]),
        st.sampled_from(["*", "1", "28", "1-15"]),
        st.sampled_from(["*", "1", "6", "1-12/3"]),
        st.sampled_from(["*", "0", "1-5", "6,0"]),
    ).map(" ".join),
)
CASE_CONTENT = {
    "generic": {
        "steps": [{"name": "set x", "action": "set", "params": {"values": {"x": 1}}}],
        "feature": "",
    },
    "manual": {"steps": [{"instruction": "Open the page", "expected": "A form"}], "feature": ""},
    "bdd": {
        "steps": [],
        "feature": "Feature: Sign in\n  Scenario: Right password\n    Then the response status is 200\n",
    },
}


JUNIT_REPORT = (
    b'<testsuites><testsuite name="fuzz"><testcase classname="fuzz" name="passes"/>'
    b"</testsuite></testsuites>"
)


def with_domain_content(case) -> None:
    """Valid steps / feature / type, cases listed once, a JUnit report that is one: for positive
    examples only."""
    if not case.meta.generation.mode.is_positive:
        return
    if case.path == "/api/v1/imports/junit/":
        if isinstance(case.body, dict) and "file" in case.body:
            case.body["file"] = JUNIT_REPORT
        elif isinstance(case.body, bytes | str):
            case.body = JUNIT_REPORT
    if not isinstance(case.body, dict):
        return
    body = case.body
    content = case.method in ("POST", "PUT") or {"type", "steps", "feature"} & body.keys()
    if case.path.startswith("/api/v1/test-cases/") and content:
        kind = body.get("type", "generic")  # the fixture's case is generic
        body.update(type=kind, **CASE_CONTENT[kind])
    if case.path.startswith("/api/v1/test-suites/") and isinstance(body.get("items"), list):
        by_case = {}
        for item in body["items"]:
            key = item.get("case") if isinstance(item, dict) else id(item)
            by_case.setdefault(key, item)
        body["items"] = list(by_case.values())


@pytest.fixture
def token(db, settings):
    # Hundreds of requests a minute from one client: the rate limits would answer most of them
    # with 429 (documented, so accepted) and hide the endpoints; tests/test_rate_limits.py covers
    # the limits themselves.
    rates = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": dict.fromkeys(rates, "100000/min"),
    }
    settings.IB_RATE_LOGIN = "100000/min"
    # The WSGI handler closes "old" connections after each request; in a test that would close
    # the test's own transaction (Django's test client switches this off the same way).
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    membership = MembershipFactory(role=Role.MAINTAINER)
    case = TestCaseFactory(project=membership.project)
    SuiteItemFactory(suite__project=membership.project, case=case)
    yield Token.objects.create(user=membership.user).key
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


# One test per operation, built when it runs rather than when it is collected. schemathesis' own
# `schema.parametrize()` builds every operation's Hypothesis test at collection (its coverage phase
# works out its cases then): about 6 s of CPU that every test process of an xdist run paid for the
# whole module, though each runs only its share. Built here, from the same schemathesis function
# its pytest plugin calls, each test costs that once, in the process that runs it; the cases, the
# phases, the seed and the checks are the same.
OPERATIONS = [result.ok() for result in schema.get_all_operations()]


@hypothesis_settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def conforms(case, token):
    with_domain_content(case)
    case.call_and_validate(headers={"Authorization": f"Token {token}"})


@pytest.mark.fuzz
# Not traced for coverage: tracing doubles these runs' CPU, the largest block of the suite, and the
# lines they reach are the API's, which its own tests cover (`make test` checks the floor without
# them).
@pytest.mark.no_cover
@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda operation: operation.label)
def test_api_conforms_to_its_schema(operation, token):
    test = build_operation_test(
        config=schema.config,
        operation=operation,
        test_func=conforms,
        given_kwargs={},
        feedback=FeedbackSources(constants_value_source=make_constants_value_source(schema)),
    )
    test(token=token)
