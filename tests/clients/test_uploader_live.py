"""`intellibrowse upload`, the console script installed with the plugin, against a real uvicorn:
a real JUnit report goes gzip-compressed with an Idempotency-Key, a lost answer is retried and
the report stored once, and every way it can fail has its own exit code and message."""

import gzip
import os
import subprocess
import sys
from pathlib import Path

import pytest
from rest_framework.authtoken.models import Token

from results.models import CaseResult, ImportBatch
from tests.clients.proxy import LosingRelay
from tests.live import free_port, live_env
from tests.monitoring.test_live import uvicorn, wait_for_server
from tests.results.conftest import sample

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]
UPLOADER = str(Path(sys.executable).parent / "intellibrowse")


@pytest.fixture(scope="module")
def server(django_db_setup, tmp_path_factory):
    env = live_env(IB_ALERT_EVALUATE_SECONDS="0")
    port = free_port()
    log = tmp_path_factory.mktemp("server") / "uvicorn.log"
    with uvicorn(env, port, log) as proc:
        wait_for_server(port, proc)
        yield port
        assert proc.poll() is None, log.read_text()[-3000:]


@pytest.fixture
def token(member):
    return Token.objects.create(user=member).key


def upload(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [UPLOADER, "upload", *args], env=env, capture_output=True, text=True, timeout=120
    )


def ci_env(port: int, token: str, project: int, **extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("INTELLIBROWSE_", "GITHUB_"))}
    env.update(
        INTELLIBROWSE_URL=f"http://127.0.0.1:{port}",
        INTELLIBROWSE_TOKEN=token,
        INTELLIBROWSE_PROJECT=str(project),
        **extra,
    )
    return env


def test_a_report_goes_gzipped_with_a_key_and_a_lost_answer_is_stored_once(
    server, project, token, tmp_path
):
    report = tmp_path / "surefire.xml"
    report.write_bytes(sample("surefire.xml"))
    github = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_RUN_ID": "991",
        "GITHUB_RUN_ATTEMPT": "2",
        "GITHUB_JOB": "unit",
        "GITHUB_SHA": "f00dfeed",
        "GITHUB_REF_NAME": "main",
    }
    with LosingRelay(server, match=b"/imports/junit/", lose=1) as relay:
        done = upload(str(report), env=ci_env(relay.port, token, project.pk, **github))

    assert done.returncode == 0, done.stderr
    # The first answer was lost; the retry found the report imported already.
    assert "again in 1 s" in done.stderr
    assert f"{report}: already imported as import #" in done.stdout
    batch = ImportBatch.objects.get()
    assert (batch.idempotency_key, batch.revision, batch.branch) == (
        "gh-991-2-unit:surefire.xml",
        "f00dfeed",
        "main",
    )
    assert CaseResult.objects.filter(batch=batch).count() == batch.totals["tests"] > 0
    sent = relay.requests[0]
    assert sent["headers"]["content-encoding"] == "gzip"
    assert sent["headers"]["idempotency-key"] == "gh-991-2-unit:surefire.xml"
    assert sent["body_bytes"] == len(gzip.compress(report.read_bytes(), 6))
    assert sent["body_bytes"] < report.stat().st_size


def test_the_same_key_for_another_report_is_refused_with_exit_code_1(
    server, project, token, tmp_path
):
    env = ci_env(server, token, project.pk)
    (tmp_path / "jest.xml").write_bytes(sample("jest.xml"))
    (tmp_path / "go.xml").write_bytes(sample("go.xml"))

    first = upload(str(tmp_path / "jest.xml"), "--idempotency-key", "build-7", env=env)
    second = upload(str(tmp_path / "go.xml"), "--idempotency-key", "build-7", env=env)

    assert first.returncode == 0, first.stderr
    assert "imported as import #" in first.stdout
    assert second.returncode == 1
    assert "refused: HTTP 409: The Idempotency-Key 'build-7' was used for a different report" in (
        second.stderr
    )
    assert ImportBatch.objects.count() == 1


def test_usage_errors_exit_2_and_an_absent_server_exits_3(server, project, token, tmp_path):
    report = tmp_path / "go.xml"
    report.write_bytes(sample("go.xml"))
    no_token = ci_env(server, token, project.pk)
    del no_token["INTELLIBROWSE_TOKEN"]

    missing_token = upload(str(report), env=no_token)
    missing_file = upload(str(tmp_path / "none.xml"), env=ci_env(server, token, project.pk))
    absent = upload(str(report), "--retries", "1", env=ci_env(free_port(), token, project.pk))
    other_project = upload(str(report), "--project", "999999", env=ci_env(server, token, 1))

    assert (missing_token.returncode, missing_token.stderr) == (
        2,
        "intellibrowse: Give an API token (INTELLIBROWSE_TOKEN).\n",
    )
    assert missing_file.returncode == 2
    assert "cannot read" in missing_file.stderr
    assert absent.returncode == 3
    assert "not sent, the server did not answer" in absent.stderr
    assert other_project.returncode == 1
    assert "HTTP 404" in other_project.stderr
    assert not ImportBatch.objects.exists()
