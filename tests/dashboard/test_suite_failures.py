"""Finding 5 of issue 15: a suite run hid why its cases failed. Each child that did not pass shows
its first error line inline and links to its case and its execution; `manage.py run --wait` names
the cases that did not pass, with the same line."""

import subprocess
import sys

import pytest
from django.test import Client

from tests.dashboard.conftest import run_all, run_suite_and_wait
from tests.factories import execution_for
from tests.live import ROOT, live_env

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def finished_suite_run(make_suite, case, failing_case):
    parent = execution_for(suite=make_suite(case, failing_case))
    run_all()
    parent.refresh_from_db()
    return parent


def row_of(html: str, child) -> str:
    """The child's row and, when it did not pass, the row of its first error under it."""
    row = html.split(f'data-child="{child.pk}"')[1].split("</tr>")[0]
    error_row = html.split(f'data-error-of="{child.pk}"')
    return row + (error_row[1].split("</tr>")[0] if len(error_row) > 1 else "")


def test_a_failed_child_shows_its_first_error_line_and_links(member, finished_suite_run):
    failed = finished_suite_run.children.get(test_case__key="fails")
    passed = finished_suite_run.children.get(test_case__key="passes")
    client = Client()
    client.force_login(member)

    html = client.get(f"/executions/{finished_suite_run.pk}/").content.decode()

    row = row_of(html, failed)
    assert f'href="/cases/{failed.test_case_id}/"' in row
    assert f'href="/executions/{failed.pk}/"' in row
    first_error = row.split('data-role="first-error">')[1].split("</pre>")[0]
    assert first_error.startswith("step 2 &#x27;x is 2&#x27;:")
    assert "\n" not in first_error
    assert 'data-role="first-error"' not in row_of(html, passed)


def test_the_first_line_only_of_a_many_line_error(member, finished_suite_run):
    failed = finished_suite_run.children.get(test_case__key="fails")
    type(failed).objects.filter(pk=failed.pk).update(status_reason="\nfirst line\nsecond line")
    client = Client()
    client.force_login(member)

    row = row_of(client.get(f"/executions/{finished_suite_run.pk}/").content.decode(), failed)

    assert ">first line</pre>" in row
    assert "second line" not in row


def test_run_wait_names_the_cases_that_did_not_pass(make_suite, case, failing_case):
    suite = make_suite(case, failing_case)

    _, text, _ = run_suite_and_wait(suite)

    assert "cases that did not pass:" in text
    failing_lines = [line for line in text.splitlines() if line.startswith("  ")]
    assert len(failing_lines) == 1
    assert (
        failing_lines[0].startswith("  fails #") and "failed: step 2 'x is 2'" in failing_lines[0]
    )


def run_exit_code(*args) -> tuple[int, str]:
    """The exit code and stderr of `manage.py run ...` in a process of its own, as CI runs it."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "run", *args],
        env=live_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done.returncode, done.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["--project", "no-such-project", "--case", "x"],
        ["--project", "{slug}", "--case", "no-such-case"],
        ["--project", "{slug}"],  # neither --case nor --suite: argparse's refusal
        ["--project", "{slug}", "--case", "old-one"],  # deprecated: refused, nothing ran
    ],
)
def test_usage_errors_exit_64_not_the_code_of_failed_tests(project, deprecated_case, args):
    code, err = run_exit_code(*[a.format(slug=project.slug) for a in args])

    assert code == 64, err
    assert "rror" in err


def test_run_wait_on_a_manual_case_prints_its_page_once_and_no_cluster_chatter(project):
    """Issue 15, "also found": `--wait` on a manual case printed a line at every poll and no
    URL, and django-q's INFO lines leaked into the output. In a process of its own, as CI runs it;
    stopped once it has said where to record the steps (a person would take it from there)."""
    manual = project.test_cases.create(
        key="by-hand", name="By hand", type="manual", steps=[{"instruction": "Look"}]
    )
    env = live_env(IB_PUBLIC_URL="http://ib.example:8612", LOG_LEVEL="INFO")
    command = [sys.executable, str(ROOT / "manage.py"), "run", "--project", project.slug]
    with subprocess.Popen(
        [*command, "--case", manual.key, "--wait", "--here"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    ) as proc:
        lines = []
        try:
            for line in proc.stdout:
                lines.extend(line.split("\r"))
                if "waiting for a person" in line:
                    break
            # About ten more polls (a progress line is some 60 characters, with no newline
            # while it waits): the URL must not come again.
            lines.extend(proc.stdout.read(600).split("\r"))
        finally:
            proc.kill()

    text = "\n".join(lines)
    execution = manual.executions.get()
    expected = f"record the manual steps: http://ib.example:8612/executions/{execution.pk}/manual/"
    assert text.count(expected) == 1
    assert "INFO" not in text


def test_run_wait_on_a_manual_case_honours_its_timeout(project):
    """Issue 15, "also found": `--timeout` on a manual case was ignored (a manual run always
    waited IB_MANUAL_TIMEOUT_SECONDS, a week), so `run --wait --timeout 2` hung for a week. The
    run waits its own timeout for people, then ends timed out with its exit code (3)."""
    manual = project.test_cases.create(
        key="by-hand", name="By hand", type="manual", steps=[{"instruction": "Look"}]
    )
    command = [sys.executable, str(ROOT / "manage.py"), "run", "--project", project.slug]
    done = subprocess.run(
        [*command, "--case", manual.key, "--wait", "--here", "--timeout", "2"],
        env=live_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )

    execution = manual.executions.get()
    assert done.returncode == 3, done.stdout + done.stderr
    assert execution.status == "timed_out"
    assert execution.timeout_seconds == 2


def test_a_manual_run_without_a_timeout_waits_the_manual_timeout(project, settings):
    manual = project.test_cases.create(key="by-hand", name="By hand", type="manual")
    automated = project.test_cases.create(key="auto", name="Auto")

    assert execution_for(manual).timeout_seconds == settings.IB_MANUAL_TIMEOUT_SECONDS
    assert execution_for(automated).timeout_seconds == settings.IB_DEFAULT_TIMEOUT_SECONDS
