"""The OpenAPI 3 schema is valid and complete: CI clients generate code from it."""

import pytest
from django.core.management import call_command
from drf_spectacular.validation import validate_schema


def test_schema_generates_without_warnings_and_validates(tmp_path):
    target = tmp_path / "openapi.yaml"

    # --fail-on-warn turns any warning (an untyped field, an unknown path parameter) into an error.
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))

    assert target.read_text().startswith("openapi: 3.")


@pytest.fixture
def served_schema(anon_api, db) -> dict:
    response = anon_api.get("/api/v1/schema/", {"format": "json"})
    assert response.status_code == 200
    return response.json()


def test_served_schema_is_valid_openapi_3(served_schema):
    validate_schema(served_schema)  # raises on an invalid document


@pytest.mark.parametrize(
    ("path", "methods"),
    [
        ("/api/v1/projects/", {"get", "post"}),
        ("/api/v1/projects/{id}/", {"get", "put", "patch", "delete"}),
        ("/api/v1/projects/{id}/members/", {"get", "post"}),
        ("/api/v1/projects/{id}/members/{user_id}/", {"delete"}),
        ("/api/v1/test-cases/", {"get", "post"}),
        ("/api/v1/test-cases/{id}/", {"get", "put", "patch", "delete"}),
        ("/api/v1/test-suites/", {"get", "post"}),
        ("/api/v1/test-suites/{id}/", {"get", "put", "patch", "delete"}),
    ],
)
def test_served_schema_documents_the_catalog_endpoints(served_schema, path, methods):
    documented = set(served_schema["paths"][path]) - {"parameters"}

    assert documented == methods


def test_case_updates_do_not_accept_a_project(served_schema):
    components = served_schema["components"]["schemas"]

    assert "project" in components["TestCaseRequest"]["properties"]
    assert "project" not in components["PatchedTestCaseUpdateRequest"]["properties"]


# --- what schemathesis found the schema and the answers disagreeing on -------------------------


def _query_parameter(served_schema, path: str, name: str) -> dict:
    operation = served_schema["paths"][path]["get"]
    return next(p for p in operation["parameters"] if p["name"] == name)


def test_an_events_actor_is_nullable(served_schema):
    # Events no person caused (a worker's step, the watchdog) have no actor.
    actor = served_schema["components"]["schemas"]["ExecutionEvent"]["properties"]["actor"]

    assert actor["nullable"] is True


@pytest.mark.parametrize(
    "path", ["/api/v1/executions/{id}/report/", "/api/v1/imports/{id}/report/"]
)
def test_a_json_report_is_documented_as_an_object_and_the_others_as_text(served_schema, path):
    content = served_schema["paths"][path]["get"]["responses"]["200"]["content"]

    assert content["application/json"]["schema"]["type"] == "object"
    assert {content[m]["schema"]["type"] for m in ("text/html", "text/csv", "application/xml")} == {
        "string"
    }


@pytest.mark.parametrize(
    "path", ["/api/v1/executions/{id}/steps/", "/api/v1/executions/{id}/steps/stream/"]
)
def test_the_attempt_parameter_declares_that_attempts_start_at_1(served_schema, path):
    attempt = _query_parameter(served_schema, path, "attempt")

    assert attempt["schema"] == {"type": "integer", "minimum": 1}
