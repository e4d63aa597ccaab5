"""Finding 1 of issue 15 (without a browser; tests/dashboard/test_browser.py has it with one):
a browser opening /api/v1/schema/ saved a file; it now reads the YAML as text. Tools keep the
OpenAPI media types."""

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db

BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


def test_a_browser_gets_the_schema_as_text_to_read(member):
    client = Client()
    client.force_login(member)

    response = client.get("/api/v1/schema/", HTTP_ACCEPT=BROWSER_ACCEPT)

    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert "Content-Disposition" not in response
    assert response.content.startswith(b"openapi: 3")


@pytest.mark.parametrize(
    ("accept", "media_type"),
    [
        ("*/*", "application/vnd.oai.openapi"),
        ("application/yaml", "application/yaml"),
        ("application/json", "application/json"),
        ("application/vnd.oai.openapi+json", "application/vnd.oai.openapi+json"),
    ],
)
def test_tools_get_the_openapi_media_types(member, accept, media_type):
    client = Client()
    client.force_login(member)

    response = client.get("/api/v1/schema/", HTTP_ACCEPT=accept)

    assert response.status_code == 200
    assert response["Content-Type"].split(";")[0] == media_type


def test_an_unacceptable_format_is_a_406_not_a_page(member):
    client = Client()
    client.force_login(member)

    response = client.get("/api/v1/schema/", HTTP_ACCEPT="image/png")

    assert response.status_code == 406
    assert not response["Content-Type"].startswith("text/")


def test_the_favicon_is_served(client):
    """Issue 15, "also found": every page logged a 404 for /favicon.ico."""
    response = client.get("/favicon.ico", follow=True)

    assert response.status_code == 200
    assert response.redirect_chain[0][0].endswith("favicon.svg")
    assert b"<svg" in b"".join(
        response.streaming_content if response.streaming else [response.content]
    )
