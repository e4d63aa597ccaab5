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
