"""Flaky detection and quarantine."""

import pytest

from executions.models import ExecutionStatus
from results.history import flaky_verdict
from results.models import CaseEvent, CaseEventKind, CaseResult, CaseStats
from results.services import case_set_quarantine
from tests.factories import TestCaseFactory

pytestmark = pytest.mark.django_db
S = ExecutionStatus


def window(*outcomes, rev="r1", retries=0):
    return [{"o": o, "ms": 1, "rev": rev, "r": retries, "at": ""} for o in outcomes]


# --- the rules ----------------------------------------------------------------------------------


def test_passing_and_failing_on_one_revision_is_flaky():
    _flips, score, flaky, reason = flaky_verdict(window("passed", "failed"), min_flips=2)

    assert flaky
    assert reason == "passed and failed on revision r1"
    assert score == 1.0  # one flip in one pair, plus same-revision evidence, capped


def test_passing_after_failed_retries_is_flaky_even_without_a_revision():
    recent = window("passed", "passed", rev="") + window("passed", rev="", retries=1)

    _, score, flaky, reason = flaky_verdict(recent, min_flips=2)

    assert flaky and reason == "passed after 1 failed try in one run"
    assert score == 0.5


def test_one_change_of_outcome_is_a_regression_not_flakiness():
    recent = window("passed", "passed", rev="a") + window("failed", "failed", rev="b")

    flips, _, flaky, _ = flaky_verdict(recent, min_flips=2)

    assert (flips, flaky) == (1, False)


def test_flipping_back_and_forth_across_revisions_is_flaky():
    recent = window("passed", rev="a") + window("failed", rev="b") + window("passed", rev="c")

    flips, score, flaky, reason = flaky_verdict(recent, min_flips=2)

    assert (flips, flaky) == (2, True)
    assert reason == "2 pass/fail flips in its last 3 results"
    assert score == 1.0


def test_skipped_results_are_neither_passes_nor_failures():
    recent = window("passed", rev="a") + window("skipped", rev="b") + window("passed", rev="c")

    flips, score, flaky, _ = flaky_verdict(recent, min_flips=2)

    assert (flips, score, flaky) == (0, 0.0, False)


def test_errors_count_as_failures():
    recent = window("passed", rev="a") + window("error", rev="a")

    assert flaky_verdict(recent, min_flips=2)[2]


# --- on real runs -------------------------------------------------------------------------------


def test_a_case_that_passes_and_fails_on_one_revision_becomes_flaky(x_case, run):
    run(x_case, x=1, revision="abc")
    run(x_case, x=2, revision="abc")

    stats = CaseStats.objects.get(case=x_case)
    assert stats.is_flaky and stats.flaky_reason == "passed and failed on revision abc"
    event = CaseEvent.objects.get(case=x_case)
    assert event.kind == CaseEventKind.FLAKY


def test_a_pass_after_an_automatic_retry_makes_the_case_flaky(project, finish):
    case = TestCaseFactory(project=project)

    finish(case, ["failed", "passed"])

    assert CaseStats.objects.get(case=case).is_flaky


def test_a_flaky_case_becomes_stable_once_the_window_has_moved_on(project, finish, settings):
    settings.IB_FLAKY_WINDOW = 3
    case = TestCaseFactory(project=project)
    finish(case, ["passed"], revision="a")
    finish(case, ["failed"], revision="a")
    for _ in range(3):
        finish(case, ["passed"], revision="b")

    stats = CaseStats.objects.get(case=case)
    assert not stats.is_flaky
    kinds = list(CaseEvent.objects.filter(case=case).order_by("id").values_list("kind", flat=True))
    assert kinds == [CaseEventKind.FLAKY, CaseEventKind.STABLE]


def test_flaky_list_orders_by_score(project, finish, viewer_api):
    very, somewhat, stable = (TestCaseFactory(project=project, key=k) for k in "abc")
    for outcome in ["passed", "failed", "passed", "failed"]:
        finish(very, [outcome])
    for outcome in ["passed", "failed", "failed", "passed"]:
        finish(somewhat, [outcome])
    finish(stable, ["passed"])

    body = viewer_api.get(f"/api/v1/analytics/flaky/?project={project.pk}").json()

    assert [row["key"] for row in body["results"]] == ["a", "b"]
    assert body["results"][0]["flaky_score"] > body["results"][1]["flaky_score"]


# --- quarantine ---------------------------------------------------------------------------------


def test_quarantine_sets_the_flag_and_records_who_and_why(project, owner):
    case = TestCaseFactory(project=project)

    case_set_quarantine(case, quarantined=True, actor=owner, reason="flaky on CI")

    case.refresh_from_db()
    assert case.quarantined
    event = CaseEvent.objects.get(case=case)
    assert (event.kind, event.actor, event.reason) == ("quarantined", owner, "flaky on CI")


def test_quarantining_a_quarantined_case_records_nothing(project, owner):
    case = TestCaseFactory(project=project, quarantined=True)

    case_set_quarantine(case, quarantined=True, actor=owner)

    assert not CaseEvent.objects.exists()


def test_a_quarantined_case_still_runs_and_is_recorded_but_does_not_fail_its_suite(
    project, x_case, make_suite, owner
):
    from engine import worker as engine
    from results.processing import process_finished_execution
    from tests.factories import execution_for

    passing = TestCaseFactory(project=project)
    case_set_quarantine(x_case, quarantined=True, actor=owner)
    parent = execution_for(suite=make_suite(x_case, passing), parameters={"x": 2})
    while engine.run_next(worker="w") is not None:
        pass
    for child in parent.children.all():
        process_finished_execution(child.pk)

    parent.refresh_from_db()
    assert parent.status == S.PASSED
    assert CaseResult.objects.get(case=x_case).outcome == "failed"


def test_quarantine_api_needs_a_maintainer(project, owner_api, member_api, viewer_api):
    case = TestCaseFactory(project=project)
    url = f"/api/v1/analytics/cases/{case.pk}/quarantine/"

    assert member_api.post(url, {"quarantined": True}).status_code == 403
    assert viewer_api.post(url, {"quarantined": True}).status_code == 403
    response = owner_api.post(url, {"quarantined": True, "reason": "flaky"})

    assert response.status_code == 200
    assert response.json()["quarantined"] is True
    events = owner_api.get(f"/api/v1/analytics/cases/{case.pk}/events/").json()["results"]
    assert events[0]["kind"] == "quarantined" and events[0]["reason"] == "flaky"


def test_release_from_quarantine_over_the_api(project, owner_api):
    case = TestCaseFactory(project=project, quarantined=True)

    response = owner_api.post(
        f"/api/v1/analytics/cases/{case.pk}/quarantine/", {"quarantined": False}
    )

    case.refresh_from_db()
    assert response.status_code == 200 and not case.quarantined
    assert CaseEvent.objects.get(case=case).kind == CaseEventKind.RELEASED


def test_quarantine_with_a_bad_body_is_a_400(project, owner_api):
    case = TestCaseFactory(project=project)

    response = owner_api.post(f"/api/v1/analytics/cases/{case.pk}/quarantine/", {})

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"


def test_an_error_of_the_runs_own_set_up_is_not_a_flip_of_the_test(project, run):
    """Issue 15, "also found": one `error` caused by a bad parameter flagged a stable case
    flaky ("passed and failed on revision ..."). An error of the run's set-up (here a URL
    variable the run did not set: UnsetVariable) is counted, but decides nothing."""
    project.allowed_hosts = ["127.0.0.1"]
    project.save(update_fields=["allowed_hosts"])
    case = TestCaseFactory(
        project=project,
        key="ping",
        steps=[
            {"name": "x is 1", "action": "assert", "params": {"variable": "x", "equals": 1}},
            {"name": "ping", "action": "http", "params": {"url": "{{ target }}/ping"}},
        ],
    )
    broken = run(case, revision="r1")  # no `target`: the run's own mistake
    case.steps = case.steps[:1]
    case.save(update_fields=["steps"])
    run(case, revision="r1")
    run(case, revision="r1")

    stats = CaseStats.objects.get(case=case)
    result = CaseResult.objects.get(execution=broken)
    assert (result.outcome, result.details["error"]["type"]) == ("error", "UnsetVariable")
    assert (stats.runs, stats.errored, stats.passed) == (3, 1, 2)
    assert not stats.is_flaky and stats.flips == 0
    assert stats.recent[0]["setup"] is True


def test_a_real_error_still_flips():
    recent = window("passed", "error", "passed")
    recent[1]["setup"] = False

    flips, _, flaky, reason = flaky_verdict(recent, min_flips=2)

    assert flips == 2 and flaky and reason == "passed and failed on revision r1"
