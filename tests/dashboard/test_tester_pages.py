"""Issue 15, findings 6, 8 and 9 on the server side: a manual run's page keeps the tester's
words, the case history reads one way with attempts, and the overview's tiles and panels count
the same runs. (The same in Chromium: test_tester_pages_browser.py.)"""

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from catalog.models import CaseType
from engine import worker as engine
from executions.models import ExecutionStatus
from executions.services import claim, people
from executions.services.manual import execution_record_manual_step
from tests.factories import SuiteItemFactory, TestCaseFactory, TestSuiteFactory, execution_for

S = ExecutionStatus
WORKER = "test-host:1"
MANUAL_STEPS = [
    {"name": "open", "instruction": "Open the app", "expected": "It opens"},
    {"name": "log in", "instruction": "Log in", "expected": "Welcome page"},
    {"name": "log out", "instruction": "Log out", "expected": "Login page"},
]


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def awaiting(project):
    """A manual run the worker handed to people."""
    execution = execution_for(
        TestCaseFactory(project=project, type=CaseType.MANUAL, steps=MANUAL_STEPS)
    )
    assert engine.run_next(worker=WORKER) == execution.pk
    execution.refresh_from_db()
    assert execution.status == S.AWAITING_INPUT
    return execution


def test_every_manual_step_is_listed_before_any_is_recorded(awaiting, viewer):
    body = client_for(viewer).get(f"/executions/{awaiting.pk}/").content.decode()

    assert [int(n) for n in re.findall(r'<tr data-order="(\d+)"', body)] == [1, 2, 3]
    assert body.count('data-status="pending"') == 3
    assert "Expected: Welcome page" in body


def test_the_execution_page_shows_what_happened_the_note_and_the_file(awaiting, member, viewer):
    execution_record_manual_step(
        awaiting.pk,
        1,
        status="failed",
        actual="A blank page",
        note="Chrome 120 on a phone",
        attachment=SimpleUploadedFile("shot.png", b"\x89PNG\r\n\x1a\n", "image/png"),
        actor=member,
    )

    body = client_for(viewer).get(f"/executions/{awaiting.pk}/").content.decode()
    row = body[body.index('<tr data-order="1"') : body.index('<tr data-order="2"')]
    assert "A blank page" in row
    assert "Chrome 120 on a phone" in row
    assert "shot.png" in row
    assert "ManualFailure" not in body
    assert body.count('data-status="pending"') == 2


def test_the_step_result_has_no_default(awaiting, member):
    body = client_for(member).get(f"/executions/{awaiting.pk}/manual/").content.decode()

    select = re.search(r'<select name="status".*?</select>', body, re.S).group(0)
    assert re.findall(r'<option value="(\w*)" selected>', select) == [""]


def test_a_step_sent_without_a_result_is_refused_and_nothing_is_recorded(awaiting, member):
    response = client_for(member).post(
        f"/executions/{awaiting.pk}/manual/",
        {"order": 1, "attempt": 1, "status": "", "actual": "It opened"},
    )

    assert response.status_code == 200
    assert "Choose the step&#x27;s result" in response.content.decode()
    awaiting.refresh_from_db()
    assert awaiting.summary.get("steps_done", 0) == 0


def test_record_again_starts_from_what_was_recorded(awaiting, member):
    execution_record_manual_step(
        awaiting.pk, 2, status="blocked", actual="No network", note="wifi off", actor=member
    )

    body = client_for(member).get(f"/executions/{awaiting.pk}/manual/").content.decode()
    form = body[body.index('id="s2_status"') :]
    form = form[: form.index("</form>")]
    assert re.search(r'<option value="blocked" selected>', form)
    assert "No network</textarea>" in form
    assert 'value="wifi off"' in form
    assert "Record again" in form


# --- the case history (finding 8) ---------------------------------------------------------------


def test_the_history_reads_newest_first_with_each_attempt(project, viewer):
    failing = [{"name": "no", "action": "assert", "params": {"variable": "x", "equals": 1}}]
    case = TestCaseFactory(project=project, steps=failing)
    execution = execution_for(case)
    engine.run_next(worker=WORKER)
    people.execution_rerun(execution.pk, actor=viewer)
    engine.run_next(worker=WORKER)

    body = client_for(viewer).get(f"/cases/{case.pk}/").content.decode()

    table = body[body.index('id="case-history"') :]
    assert re.findall(r"attempt (\d)</span>", table) == ["2", "1"]
    assert "<th></th>" not in table
    chart = body[body.index('class="sparkline"') : body.index("</svg>")]
    titles = re.findall(r"<title>(.*?)</title>", chart)
    assert titles[0].startswith(f"#{execution.pk} attempt 2: failed")
    assert titles[1].startswith(f"#{execution.pk} attempt 1: failed")
    # Every bar is the same size, whatever the run took.
    assert len(set(re.findall(r'height="(\d+)" class="fill-', chart))) == 1


# --- one source for counts (finding 9) ----------------------------------------------------------


def test_the_running_tile_counts_what_the_running_panel_lists(project, viewer):
    suite = TestSuiteFactory(project=project, max_parallel=2)
    for order in range(3):
        SuiteItemFactory(suite=suite, case=TestCaseFactory(project=project), order=order)
    execution_for(suite=suite)
    claim.execution_claim_next(worker=WORKER)
    claim.execution_claim_next(worker="other-host:2")

    body = client_for(viewer).get("/overview/panels/").content.decode()

    tile = int(re.search(r'data-counter="running">(\d+)<', body).group(1))
    listed = int(re.search(r'data-panel-count="running">(\d+)<', body).group(1))
    running_rows = body[body.index("<h2>Running") : body.index("<h2>Queue")]
    assert tile == listed == running_rows.count("data-execution-row=") == 2


def test_the_log_numbers_each_event_in_text(project, viewer):
    execution = execution_for(TestCaseFactory(project=project))
    engine.run_next(worker=WORKER)
    body = client_for(viewer).get(f"/executions/{execution.pk}/").content.decode()

    numbers = [int(n) for n in re.findall(r'<span class="seq">(\d+)</span>', body)]
    assert numbers == list(range(1, len(numbers) + 1)) and len(numbers) >= 5
    assert re.search(r'<time class="muted" datetime="[0-9T:.+-]+" data-clock>', body)
