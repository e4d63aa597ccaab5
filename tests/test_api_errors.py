"""Every error under /api/ is JSON in the one shape {"code", "message", "detail"}, whatever raised
it (a URL no route matches, a plain Django view, CommonMiddleware) and with DEBUG on or off
(under DEBUG Django answers unmatched URLs with its HTML debug page, ignoring handler404)."""

import pytest

pytestmark = pytest.mark.django_db

ID_PAST_BIGINT = str(2**63)


def assert_error_shape(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"code", "message", "detail"}
    assert body["code"] == code
    return body


@pytest.fixture(params=[True, False], ids=["debug", "production"])
def debug(request, settings):
    settings.DEBUG = request.param
    return request.param


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/executions/abc/",
        f"/api/v1/executions/{ID_PAST_BIGINT}/",
        f"/api/v1/executions/1/steps/{ID_PAST_BIGINT}/result/",
        f"/api/v1/hooks/suites/{ID_PAST_BIGINT}/run/",
        "/api/v1/no-such-resource/",
        "/api/",
    ],
)
def test_a_url_no_route_matches_is_a_json_404(owner_api, debug, path):
    assert_error_shape(owner_api.get(path), 404, "not_found")


def test_a_method_a_plain_django_view_refuses_is_a_json_405_with_allow(owner_api, debug):
    response = owner_api.get("/api/v1/auth/logout/")  # Django's LogoutView takes POST only

    assert_error_shape(response, 405, "method_not_allowed")
    assert "POST" in response["Allow"]


def test_a_write_to_an_api_url_without_its_slash_is_a_json_404_not_a_500(owner_api, debug):
    response = owner_api.post("/api/v1/executions", {}, format="json")

    body = assert_error_shape(response, 404, "not_found")
    assert "/api/v1/executions/" in body["message"]


def test_pages_outside_the_api_keep_html_errors(client, debug):
    response = client.get("/no-such-page/")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
