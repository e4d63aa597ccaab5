"""Attachment storage and downloads (security issue 12): members get the file, strangers a 404;
nothing a user stored is ever active in our origin, and nothing is stored under a name a command
could import or a server could run."""

import re
import subprocess
import sys

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from rest_framework.authtoken.models import Token

from catalog.models import CaseType
from engine import worker as engine
from executions.attachments import attachment_save, discard_attachments
from executions.models import Attachment
from tests.factories import TestCaseFactory, execution_for
from tests.live import ROOT

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
SVG = (
    b'<svg xmlns="http://www.w3.org/2000/svg"><script>'
    b"fetch('/api/v1/projects/1/members/', {method: 'POST'})</script></svg>"
)
SANDBOX = "sandbox; default-src 'none'"


@pytest.fixture
def execution(case):
    return execution_for(case)


def browser_for(user):
    client = Client()
    if user:
        client.force_login(user)
    return client


def body(response) -> bytes:
    return b"".join(response.streaming_content)


def test_member_downloads_an_attachment(execution, viewer):
    stored = attachment_save(execution.pk, 1, "shot.png", PNG, "image/png")

    response = browser_for(viewer).get(stored["url"])

    assert response.status_code == 200
    assert body(response) == PNG
    assert response["Content-Type"] == "image/png"


def test_stranger_gets_404(execution, stranger):
    stored = attachment_save(execution.pk, 1, "shot.png", PNG, "image/png")
    assert browser_for(stranger).get(stored["url"]).status_code == 404


def test_anonymous_browser_is_sent_to_login(execution):
    stored = attachment_save(execution.pk, 1, "shot.png", PNG, "image/png")
    response = browser_for(None).get(stored["url"])
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_a_ci_client_downloads_with_its_api_token(execution, viewer):
    stored = attachment_save(execution.pk, 1, "results.log", b"all green\n", "text/plain")
    token = Token.objects.create(user=viewer)

    response = Client().get(stored["url"], HTTP_AUTHORIZATION=f"Token {token.key}")

    assert response.status_code == 200
    assert body(response) == b"all green\n"


def test_a_strangers_token_gets_404(execution, stranger):
    stored = attachment_save(execution.pk, 1, "results.log", b"all green\n", "text/plain")
    token = Token.objects.create(user=stranger)

    response = Client().get(stored["url"], HTTP_AUTHORIZATION=f"Token {token.key}")

    assert response.status_code == 404


def test_a_bad_token_gets_401_not_the_login_page(execution):
    stored = attachment_save(execution.pk, 1, "results.log", b"all green\n", "text/plain")

    response = Client().get(stored["url"], HTTP_AUTHORIZATION="Token not-a-real-token")

    assert response.status_code == 401


def test_an_svg_downloads_with_a_sandbox_policy_and_nosniff(execution, owner):
    stored = attachment_save(execution.pk, 1, "graph.svg", SVG, "image/svg+xml")

    response = browser_for(owner).get(stored["url"])

    assert response.status_code == 200
    assert response["Content-Type"] != "image/svg+xml"
    assert response["Content-Disposition"] == 'attachment; filename="graph.svg"'
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"].startswith(SANDBOX)


def test_svg_bytes_claimed_as_png_still_download(execution, owner):
    stored = attachment_save(execution.pk, 1, "shot.png", SVG, "image/png")

    response = browser_for(owner).get(stored["url"])

    assert response["Content-Disposition"].startswith("attachment;")
    assert response["Content-Type"] == "text/plain"


def test_a_raster_image_shows_inline_whatever_its_name(execution, owner):
    stored = attachment_save(execution.pk, 1, "graph.svg", PNG, "image/svg+xml")

    response = browser_for(owner).get(stored["url"])

    assert response["Content-Type"] == "image/png"
    assert response["Content-Disposition"] == 'inline; filename="graph.svg"'
    assert response["Content-Security-Policy"].startswith(SANDBOX)
    assert response["X-Content-Type-Options"] == "nosniff"


def test_html_downloads_instead_of_rendering(execution, viewer):
    stored = attachment_save(
        execution.pk, 1, "page.html", b"<script>alert(1)</script>", "text/html"
    )

    response = browser_for(viewer).get(stored["url"])

    assert response["Content-Disposition"] == 'attachment; filename="page.html"'


def test_a_hostile_name_gives_a_safe_download_header(execution, viewer):
    stored = attachment_save(execution.pk, 1, '../x"\r\nSet-Cookie: a=b.html', b"x", "text/html")

    response = browser_for(viewer).get(stored["url"])

    assert response.status_code == 200
    assert "\n" not in response["Content-Disposition"]
    assert response["Content-Disposition"] == 'attachment; filename="x\\"__Set-Cookie: a=b.html"'
    assert "Set-Cookie" not in response.headers


def test_files_are_stored_under_a_random_name_without_extension(execution):
    stored = attachment_save(execution.pk, 1, "conftest.py", b"import os\n", "text/x-python")

    assert re.fullmatch(rf"attachments/{execution.pk}/1/[0-9a-f]{{32}}", stored["path"])
    row = Attachment.objects.get(path=stored["path"])
    assert (row.name, row.content_type, row.size) == ("conftest.py", "text/plain", 10)


def test_a_testers_upload_through_the_api_is_stored_inert(project, member_api, owner):
    case = TestCaseFactory(
        project=project, type=CaseType.MANUAL, steps=[{"instruction": "Look", "expected": "ok"}]
    )
    execution = execution_for(case)
    assert engine.run_next(worker="test-worker") == execution.pk
    upload = SimpleUploadedFile("graph.svg", SVG, content_type="image/svg+xml")

    response = member_api.post(
        f"/api/v1/executions/{execution.pk}/steps/1/result/",
        {"status": "passed", "attachment": upload},
        format="multipart",
    )

    assert response.status_code == 200, response.json()
    stored = response.json()["step"]["attachments"][0]
    assert not stored["url"].endswith(".svg")
    served = browser_for(owner).get(stored["url"])
    assert served["Content-Disposition"] == 'attachment; filename="graph.svg"'
    assert served["Content-Security-Policy"].startswith(SANDBOX)


def test_a_file_stored_before_the_attachment_rows_still_downloads(execution, viewer):
    legacy = default_storage.save(
        f"attachments/{execution.pk}/1/0badcafe-graph.svg", ContentFile(SVG)
    )

    response = browser_for(viewer).get(default_storage.url(legacy))

    assert response.status_code == 200
    assert body(response) == SVG
    assert response["Content-Disposition"] == 'attachment; filename="graph.svg"'
    assert response["Content-Security-Policy"].startswith(SANDBOX)


def test_a_folder_of_attachments_is_a_404_not_a_500(execution, viewer):
    attachment_save(execution.pk, 1, "shot.png", PNG, "image/png")

    response = browser_for(viewer).get(f"/media/attachments/{execution.pk}/1")

    assert response.status_code == 404


def test_a_path_out_of_the_execution_is_a_404(execution, viewer, other_project):
    other = execution_for(TestCaseFactory(project=other_project))
    stored = attachment_save(other.pk, 1, "secret.png", PNG, "image/png")
    name = stored["path"].rsplit("/", 1)[-1]

    response = browser_for(viewer).get(f"/media/attachments/{execution.pk}/../{other.pk}/1/{name}")

    assert response.status_code == 404


def test_media_root_inside_the_project_folder_is_refused():
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env={
            "PATH": "/usr/bin:/bin",
            "DJANGO_SETTINGS_MODULE": "intellibrowse.settings",
            "IB_MEDIA_ROOT": str(ROOT / "var" / "media"),
            "HOME": str(ROOT / "var"),
        },
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert "must lie outside the project folder" in result.stderr


def test_media_root_lies_outside_the_project_folder_by_default():
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.conf import settings; print(settings.MEDIA_ROOT)",
        ],
        cwd=ROOT,
        env={
            "PATH": "/usr/bin:/bin",
            "DJANGO_SETTINGS_MODULE": "intellibrowse.settings",
            "HOME": "/tmp/ib-home",
        },
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert not result.stdout.strip().startswith(str(ROOT))


def test_a_refused_steps_attachments_leave_neither_file_nor_row(execution):
    # A worker that lost its run discards what its refused step saved (runners/base.py, engine.py).
    step = {"attachments": [attachment_save(execution.pk, 1, "shot.png", b"\x89PNG\r\n\x1a\n")]}
    path = step["attachments"][0]["path"]
    discard_attachments(step)
    assert not default_storage.exists(path)
    assert not Attachment.objects.filter(path=path).exists()
