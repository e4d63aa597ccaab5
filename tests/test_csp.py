"""A Content-Security-Policy on every page we render (security issue 12): scripts from our own
origin only, never inline, so text a user got into a page cannot run. The browser half (no
violation on the real pages in Chromium) is tests/monitoring/test_csp_browser.py."""

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def policy_of(response) -> dict[str, str]:
    header = response["Content-Security-Policy"]
    return dict((part.strip() + " ").split(" ", 1) for part in header.split(";") if part.strip())


def signed_in(user):
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def superuser(django_user_model):
    return django_user_model.objects.create_superuser("root", "root@example.com", "pw-root-1234")


PAGES = [
    "/",
    "/flaky/",
    "/queue/",
    "/api/v1/",
    "/api/v1/projects/",
    "/api/v1/docs/",
    "/admin/",
    "/admin/executions/execution/",
]


@pytest.mark.parametrize("url", PAGES)
def test_every_page_allows_only_our_own_scripts(url, superuser):
    response = signed_in(superuser).get(url, HTTP_ACCEPT="text/html")

    assert response.status_code == 200
    policy = policy_of(response)
    assert policy["script-src"].strip() == "'self'"
    assert policy["object-src"].strip() == "'none'"


def test_the_login_page_allows_only_our_own_scripts():
    response = Client().get("/accounts/login/")

    assert policy_of(response)["script-src"].strip() == "'self'"


def test_swagger_ui_loads_from_our_own_static_files(superuser):
    html = signed_in(superuser).get("/api/v1/docs/").content.decode()

    assert "cdn." not in html and "https://" not in html
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    assert "<script>" not in html


def test_swagger_ui_init_script_is_a_url_of_its_own(superuser):
    response = signed_in(superuser).get("/api/v1/docs/?script=")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/javascript")
    assert b"SwaggerUIBundle" in response.content
