"""Finding 4 of issue 15: progress bars are coloured by outcome segments (passed, failed, error,
skipped) everywhere, and their label counts each outcome; `manage.py run --wait` draws the same
counts. executions.progress is the one reading; these tests run cases for real in this process."""

import io
import re

import pytest
from django.core.management import call_command
from django.template.loader import render_to_string
from django.test import Client

from dashboard.templatetags.outcomes import outcome_bar
from executions.models import Execution, ExecutionStatus
from executions.progress import Progress, execution_progress, segment_counts
from tests.dashboard.conftest import run_all, run_suite_and_wait
from tests.factories import execution_for

S = ExecutionStatus
pytestmark = pytest.mark.django_db(transaction=True)


def segments_in(html: str) -> dict[str, int]:
    return {
        name: int(n) for name, n in re.findall(r'data-segment="(\w+)" data-count="(\d+)"', html)
    }


def test_statuses_fall_into_the_four_segments_as_they_decide_a_run():
    counts = segment_counts(
        {
            "passed": 2,
            "warning": 1,
            "failed": 1,
            "timed_out": 1,
            "error": 1,
            "blocked": 1,
            "skipped": 1,
            "cancelled": 1,
            "running": 4,
        }
    )

    assert counts == {"passed": 3, "failed": 2, "error": 2, "skipped": 2}


def test_the_label_counts_each_outcome_so_a_failed_run_does_not_read_as_all_failed():
    progress = Progress(
        done=2, total=2, unit="steps", counts=segment_counts({"passed": 1, "failed": 1})
    )

    assert progress.label == "2/2 steps: 1 passed, 1 failed"
    assert [(name, n) for name, n, _ in progress.segments()] == [("passed", 1), ("failed", 1)]
    assert sum(width for *_, width in progress.segments()) == 100


def test_a_failed_case_run_has_a_passed_and_a_failed_segment(failing_case):
    execution = execution_for(failing_case)
    run_all()
    execution.refresh_from_db()

    assert execution.status == S.FAILED
    progress = execution_progress(execution)
    assert progress.counts == {"passed": 1, "failed": 1, "error": 0, "skipped": 0}


def test_a_suite_run_counts_its_children_by_outcome(make_suite, case, failing_case):
    parent = execution_for(suite=make_suite(case, failing_case))
    run_all()
    parent.refresh_from_db()

    progress = execution_progress(parent)
    assert (progress.done, progress.total, progress.unit) == (2, 2, "cases")
    assert progress.counts == {"passed": 1, "failed": 1, "error": 0, "skipped": 0}


def test_the_execution_page_and_the_project_runs_list_draw_the_same_segments(
    member, make_suite, case, failing_case
):
    parent = execution_for(suite=make_suite(case, failing_case))
    run_all()
    client = Client()
    client.force_login(member)

    page = client.get(f"/executions/{parent.pk}/").content.decode()
    runs = client.get(f"/projects/{parent.project_id}/").content.decode()

    bar = re.search(r'<div[^>]*id="execution-progress".*?</div>', page, re.S).group(0)
    assert segments_in(bar) == {"passed": 1, "failed": 1}
    assert "2/2 cases: 1 passed, 1 failed" in page
    # The child rows: the passed case all green, the failed one half green, half red.
    assert "2/2 steps: 1 passed, 1 failed" in page
    assert "2/2 steps: 2 passed" in page
    row = runs.split(f'data-execution-row="{parent.pk}"')[1].split("</tr>")[0]
    assert segments_in(row) == {"passed": 1, "failed": 1}


def test_a_cancelled_run_shows_no_green(case):
    execution = execution_for(case)
    call_command("cancel", str(execution.pk), stdout=io.StringIO(), stderr=io.StringIO())
    execution.refresh_from_db()

    html = render_to_string("dashboard/_outcome_bar.html", outcome_bar(execution))

    assert "seg-passed" not in html
    assert execution.status == S.CANCELLED


def test_run_wait_draws_the_outcome_segments_and_counts(make_suite, case, failing_case):
    suite = make_suite(case, failing_case)

    code, _, err = run_suite_and_wait(suite)

    assert code == 1
    last_bar = err.replace("\r", "\n").strip().splitlines()[-1]
    assert "2/2 cases: 1 passed, 1 failed" in last_bar
    assert re.search(r"\[=+F+\]", last_bar), last_bar
    assert Execution.objects.get(parent=None).status == S.FAILED
