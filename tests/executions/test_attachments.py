"""Attachment downloads: members get the file, strangers and anonymous users do not."""

import pytest
from django.test import Client

from executions.attachments import attachment_save
from tests.factories import execution_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def attachment(case, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    execution = execution_for(case)
    return attachment_save(execution.pk, 1, "shot.png", b"\x89PNG fake", "image/png")


def browser_for(user):
    client = Client()
    if user:
        client.force_login(user)
    return client


def test_member_downloads_an_attachment(attachment, viewer):
    response = browser_for(viewer).get(attachment["url"])

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"\x89PNG fake"
    assert response["Content-Type"] == "image/png"


def test_stranger_gets_404(attachment, stranger):
    assert browser_for(stranger).get(attachment["url"]).status_code == 404


def test_anonymous_is_sent_to_login(attachment):
    response = browser_for(None).get(attachment["url"])
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_non_image_downloads_instead_of_rendering(case, settings, tmp_path, viewer):
    settings.MEDIA_ROOT = tmp_path
    execution = execution_for(case)
    html = attachment_save(execution.pk, 1, "page.html", b"<script>alert(1)</script>", "text/html")

    response = browser_for(viewer).get(html["url"])

    assert response["Content-Disposition"] == "attachment"
