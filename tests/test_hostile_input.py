"""Hostile input: every request here gets a 4xx in the one error shape, with a message that says
what is wrong, and leaves nothing behind. Files are in tests/hostile/; what is better built than
stored (huge or deeply nested bodies) is built here.

Memory is measured with tracemalloc around the request: a body of 50 MB or a billion-laughs XML
must cost about what a small request costs, not its expanded size. pytest-timeout guards against
a request that never comes back (an expanding entity, a recursive parser).
"""

import json
import tracemalloc
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from catalog.models import Project, SuiteItem, TestCase, TestSuite
from core.parsers import MAX_DEPTH
from executions.models import Execution, RunSchedule
from results.models import CaseResult, ImportBatch
from runners.gherkin_source import MAX_FEATURE_BYTES
from tests.factories import TestCaseFactory

pytestmark = pytest.mark.timeout(60)

HOSTILE = Path(__file__).parent / "hostile"
CASES = "/api/v1/test-cases/"
PROJECTS = "/api/v1/projects/"
EXECUTIONS = "/api/v1/executions/"
# A request that is refused must not cost more than this much Python memory, whatever its size.
MEMORY_BOUND = 8 * 1024 * 1024

_MODELS = (Project, TestCase, TestSuite, SuiteItem, Execution, RunSchedule, ImportBatch, CaseResult)


def row_counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in _MODELS}


def assert_refused(response, status: int, code: str | None = None) -> dict:
    """A `status` answer in the one error shape with a message for people; returns the body."""
    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert {"code", "message", "detail"} <= set(body)
    assert isinstance(body["message"], str) and body["message"].strip()
    if code is not None:
        assert body["code"] == code, body
    return body


@contextmanager
def peak_memory():
    """Yields a list that holds the peak traced allocation (bytes) once the block ends."""
    peak: list[int] = []
    tracemalloc.start()
    try:
        yield peak
    finally:
        peak.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()


class EndlessBody:
    """A request body of `size` bytes made up on demand, so the test itself holds none of it."""

    def __init__(self, size: int, fill: bytes = b"[") -> None:
        self.left, self.fill = size, fill

    def read(self, size: int = -1) -> bytes:
        size = self.left if size is None or size < 0 else min(size, self.left)
        self.left -= size
        return self.fill * size

    def readline(self, size: int = -1) -> bytes:
        return self.read(size)


def case_body(project, **fields) -> dict:
    body = {
        "project": project.pk,
        "key": "hostile-1",
        "name": "Hostile",
        "steps": [{"action": "set", "params": {"values": {"x": 1}}}],
    }
    return body | fields


@pytest.fixture
def junit_url(project):
    return f"/api/v1/imports/junit/?project={project.pk}"


# --- JUnit XML (POST /api/v1/imports/junit/) --------------------------------------------------

XML_FILES = {
    "billion_laughs.xml": "xml_forbidden",
    "external_entity.xml": "xml_forbidden",
    "external_dtd.xml": "xml_forbidden",
    "parameter_entity.xml": "xml_forbidden",
    "malformed.xml": "invalid_junit",
    "not_junit.xml": "invalid_junit",
    "latin1_declared_utf8.xml": "invalid_junit",
    "utf16_declared_utf8.xml": "invalid_junit",
}


@pytest.mark.parametrize(("name", "code"), sorted(XML_FILES.items()))
def test_hostile_junit_xml_is_refused_and_imports_nothing(owner_api, junit_url, name, code):
    before = row_counts()

    response = owner_api.post(
        junit_url, (HOSTILE / name).read_bytes(), content_type="application/xml"
    )

    assert_refused(response, 400, code)
    assert row_counts() == before


def test_billion_laughs_is_refused_before_anything_expands(owner_api, junit_url):
    bomb = (HOSTILE / "billion_laughs.xml").read_bytes()

    with peak_memory() as peak:
        response = owner_api.post(junit_url, bomb, content_type="application/xml")

    assert response.status_code == 400
    assert peak[0] < MEMORY_BOUND


def test_an_external_entity_never_reaches_the_answer(owner_api, junit_url):
    response = owner_api.post(
        junit_url, (HOSTILE / "external_entity.xml").read_bytes(), content_type="application/xml"
    )

    assert response.status_code == 400
    assert b"root:" not in response.content  # /etc/passwd


def test_a_billion_laughs_upload_as_a_file_is_refused(owner_api, junit_url):
    upload = SimpleUploadedFile("report.xml", (HOSTILE / "billion_laughs.xml").read_bytes())
    before = row_counts()

    response = owner_api.post(junit_url, {"file": upload}, format="multipart")

    assert_refused(response, 400, "xml_forbidden")
    assert row_counts() == before


def test_an_oversize_report_is_413_and_imports_nothing(owner_api, junit_url, settings):
    settings.IB_JUNIT_MAX_BYTES = 4096
    cases = "".join(f'<testcase classname="big" name="case {i}"/>' for i in range(500))
    report = f'<testsuites><testsuite name="big">{cases}</testsuite></testsuites>'.encode()
    before = row_counts()

    response = owner_api.post(junit_url, report, content_type="application/xml")

    body = assert_refused(response, 413, "too_large")
    assert body["detail"] == {"limit_bytes": 4096}
    assert row_counts() == before


# --- Test cases: Gherkin and step definitions -----------------------------------------------


def test_invalid_gherkin_is_a_400_naming_the_line(owner_api, project):
    feature = (HOSTILE / "invalid_gherkin.feature").read_text()
    before = row_counts()

    response = owner_api.post(CASES, case_body(project, type="bdd", steps=[], feature=feature))

    body = assert_refused(response, 400, "invalid")
    assert "Invalid Gherkin" in body["detail"]["feature"][0]
    assert row_counts() == before


def test_an_oversize_gherkin_feature_is_a_400(owner_api, project):
    feature = "Feature: big\n" + "# padding\n" * (MAX_FEATURE_BYTES // 10)
    before = row_counts()

    response = owner_api.post(CASES, case_body(project, type="bdd", steps=[], feature=feature))

    body = assert_refused(response, 400, "invalid")
    assert "at most" in body["detail"]["feature"][0]
    assert row_counts() == before


INVALID_STEPS = json.loads((HOSTILE / "invalid_steps.json").read_text())


@pytest.mark.parametrize("example", INVALID_STEPS, ids=[e["error"] for e in INVALID_STEPS])
def test_invalid_step_definitions_are_a_400_saying_what_is_wrong(owner_api, project, example):
    before = row_counts()

    response = owner_api.post(CASES, case_body(project, steps=example["steps"]))

    body = assert_refused(response, 400, "invalid")
    assert example["error"] in json.dumps(body["detail"]["steps"])
    assert row_counts() == before


# --- Bodies: size, depth, syntax, numbers ------------------------------------------------------


def test_a_json_body_over_the_limit_is_413_without_reading_it_all(owner_api, project, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024
    size = 50 * 1024 * 1024
    before = row_counts()

    with peak_memory() as peak:
        response = owner_api.generic(
            "POST",
            CASES,
            content_type="application/json",
            **{"wsgi.input": EndlessBody(size), "CONTENT_LENGTH": str(size)},
        )

    body = assert_refused(response, 413, "too_large")
    assert body["detail"] == {"limit_bytes": 64 * 1024}
    assert peak[0] < MEMORY_BOUND
    assert row_counts() == before


def test_an_oversize_form_to_an_api_url_outside_drf_is_a_json_413(client, settings):
    # The browsable API's login form is a Django view: Django itself refuses the body while the
    # CSRF check reads it, and core.views answers in the API's shape.
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024

    response = client.post("/api/v1/auth/login/", {"username": "x", "password": "y" * 4096})

    assert_refused(response, 413, "too_large")


def test_100000_levels_of_nesting_are_a_400_not_a_crash(owner_api, project):
    deep = "[" * 100_000 + "]" * 100_000
    before = row_counts()

    response = owner_api.post(CASES, deep, content_type="application/json")

    body = assert_refused(response, 400, "parse_error")
    assert "nested deeper" in body["message"]
    assert row_counts() == before


def test_nesting_just_past_the_limit_inside_a_field_is_a_400(owner_api, project):
    parameters: dict = {}
    for _ in range(MAX_DEPTH):
        parameters = {"x": parameters}
    before = row_counts()

    response = owner_api.post(CASES, case_body(project, parameters=parameters))

    assert_refused(response, 400, "parse_error")
    assert row_counts() == before


def test_nesting_within_the_limit_is_accepted(owner_api, project):
    parameters: dict = {"leaf": 1}
    for _ in range(10):
        parameters = {"x": parameters}

    response = owner_api.post(CASES, case_body(project, parameters=parameters))

    assert response.status_code == 201, response.content
    assert TestCase.objects.get(key="hostile-1").parameters == parameters


@pytest.mark.parametrize(
    "raw",
    [
        b'{"project": 1, "name": "unclosed',
        b'{"project": 1, "name": NaN}',
        b'{"project": 1, "name": Infinity}',
        b"\xff\xfe{\x00}\x00",  # UTF-16 bytes sent as UTF-8
        '{"name": "caf\u00e9"}'.encode("latin-1"),
    ],
    ids=["truncated", "nan", "infinity", "utf16-bytes", "latin1-bytes"],
)
def test_malformed_or_mis_encoded_json_is_a_400(owner_api, raw):
    before = row_counts()

    response = owner_api.post(CASES, raw, content_type="application/json; charset=utf-8")

    assert_refused(response, 400, "parse_error")
    assert row_counts() == before


def test_a_form_encoded_body_is_415_the_api_takes_json(owner_api, project):
    response = owner_api.post(
        PROJECTS, "name=x&slug=x", content_type="application/x-www-form-urlencoded"
    )

    assert_refused(response, 415)
    assert not Project.objects.filter(slug="x").exists()


@pytest.mark.parametrize(
    "digits", ["1" + "0" * 30, "-1" + "0" * 30, "9" * 5000], ids=["1e30", "-1e30", "5000-digits"]
)
def test_an_integer_out_of_range_is_a_400(owner_api, project, digits):
    body = json.dumps({"project": project.pk, "name": "s", "max_parallel": 1})
    body = body.replace('"max_parallel": 1', f'"max_parallel": {digits}')
    before = row_counts()

    response = owner_api.post("/api/v1/test-suites/", body, content_type="application/json")

    assert response.status_code == 400, response.content[:300]
    assert row_counts() == before


def test_an_id_no_database_can_hold_is_a_400(owner_api, project):
    before = row_counts()

    response = owner_api.post(CASES, case_body(project) | {"project": 10**30})

    body = assert_refused(response, 400, "invalid")
    assert "project" in body["detail"]
    assert row_counts() == before


def test_a_filter_value_no_database_can_hold_is_a_400(owner_api):
    response = owner_api.get(CASES, {"project": str(10**30)})

    assert_refused(response, 400, "invalid")


# --- Odd Unicode -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fields",
    [
        {"name": "nul\x00name"},
        {"description": "\x00"},
        {"parameters": {"key\x00": 1}},
        {"steps": [{"action": "set", "params": {"values": {"x": "a\x00b"}}}]},
    ],
    ids=["name", "description", "parameter-key", "step-value"],
)
def test_nul_anywhere_in_a_body_is_a_400(owner_api, project, fields):
    before = row_counts()

    response = owner_api.post(CASES, case_body(project, **fields))

    body = assert_refused(response, 400, "parse_error")
    assert "NUL" in body["message"]
    assert row_counts() == before


@pytest.mark.parametrize(
    ("path", "query"),
    [
        (EXECUTIONS, {"environment": "prod\x00"}),
        (CASES, {"search": "x\x00"}),
        ("/api/v1/analytics/statistics/", {"branch": "main\x00"}),
        ("/api/v1/analytics/trends/", {"environment": "\x00"}),
    ],
    ids=["filter", "search", "statistics-branch", "trends-environment"],
)
def test_nul_in_a_query_parameter_is_a_400(owner_api, project, path, query):
    response = owner_api.get(path, {"project": project.pk, **query})

    body = assert_refused(response, 400, "invalid")
    assert "NUL" in body["message"]


def test_nul_in_a_url_path_is_a_400(client):
    response = client.get("/api/v1/executions/1\x00/")

    assert_refused(response, 400, "invalid")


@pytest.mark.parametrize(
    "escape", ["\\ud800", "\\udfff", "x\\ud83dy"], ids=["high", "low", "split"]
)
def test_a_lone_surrogate_is_a_400(owner_api, project, escape):
    raw = json.dumps(case_body(project, name="PLACEHOLDER")).replace("PLACEHOLDER", escape)
    before = row_counts()

    response = owner_api.post(CASES, raw, content_type="application/json")

    body = assert_refused(response, 400, "parse_error")
    assert "surrogate" in body["message"]
    assert row_counts() == before


ODD_BUT_VALID = "\u202eRTL override \u200fmark \U0001f680 emoji \U0001f469\u200d\U0001f4bb zwj"


def test_rtl_marks_and_emoji_in_names_are_stored_exactly(owner_api, project):
    response = owner_api.post(CASES, case_body(project, name=ODD_BUT_VALID))

    assert response.status_code == 201, response.content
    assert owner_api.get(f"{CASES}{response.json()['id']}/").json()["name"] == ODD_BUT_VALID


def test_emoji_as_parameter_names_are_stored_exactly(owner_api, project):
    parameters = {"\U0001f680": "go", "\u05e9\u05dd": "\u05e2\u05e8\u05da"}  # rocket; Hebrew

    response = owner_api.post(CASES, case_body(project, parameters=parameters))

    assert response.status_code == 201, response.content
    assert TestCase.objects.get(key="hostile-1").parameters == parameters


@pytest.mark.parametrize("key", ["\U0001f680-launch", "login\u200f", "\u202elogin"])
def test_emoji_or_direction_marks_in_a_case_key_are_a_400(owner_api, project, key):
    before = row_counts()

    response = owner_api.post(CASES, case_body(project, key=key))

    body = assert_refused(response, 400, "invalid")
    assert "key" in body["detail"]
    assert row_counts() == before


def test_a_refused_update_leaves_the_case_as_it_was(owner_api, project):
    case = TestCaseFactory(project=project, name="before")

    response = owner_api.patch(
        f"{CASES}{case.pk}/", {"name": "after", "steps": [{"action": "nope"}]}, format="json"
    )

    assert response.status_code == 400
    case.refresh_from_db()
    assert case.name == "before"
