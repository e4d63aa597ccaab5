"""A reported run's results land where every other result lands (issue 16): each result a batch
brings is a CaseResult of a catalog case of origin "reported", recorded as the batch arrives,
once, with retries of a test as attempts, and folded into the case's history and flaky verdict.
Through the real API (APIClient)."""

import json

import pytest
from django.test import override_settings

from catalog.models import CaseOrigin, TestCase
from executions.models import Execution, ReportedBatch, StepRecord, TraceStorage
from executions.traces import trace_of, trace_steps
from results.models import CaseResult, CaseStats

pytestmark = pytest.mark.django_db
URL = "/api/v1/reported-runs/"


def result(name, outcome="passed", **fields):
    return {"classname": "tests.test_cart", "name": name, "outcome": outcome, **fields}


@pytest.fixture
def run(project, member_api):
    body = {"project": project.pk, "name": "pytest", "revision": "r1", "branch": "main"}
    response = member_api.post(URL, body, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def send(api, run_id, batch_id, rows):
    return api.post(
        f"{URL}{run_id}/batches/", {"batch_id": batch_id, "results": rows}, format="json"
    )


def test_a_batch_becomes_case_results_of_reported_cases_as_it_arrives(run, member_api, project):
    rows = [result("test_a", duration_ms=12), result("test_b", "failed", message="boom")]

    response = send(member_api, run["id"], "b1", rows)

    assert response.status_code == 201
    recorded = CaseResult.objects.filter(execution_id=run["id"]).select_related("case")
    by_key = {r.case.key: r for r in recorded}
    assert set(by_key) == {"tests.test_cart.test_a", "tests.test_cart.test_b"}
    failed = by_key["tests.test_cart.test_b"]
    assert (failed.outcome, failed.message, failed.attempt_number) == ("failed", "boom", 1)
    assert (failed.suite_name, failed.revision, failed.branch) == ("pytest", "r1", "main")
    assert failed.details["type"] == "Failure" and failed.details["order"] == 2
    assert by_key["tests.test_cart.test_a"].duration_ms == 12
    case = failed.case
    assert case.origin == CaseOrigin.REPORTED and case.project == project
    stats = CaseStats.objects.get(case=case)
    assert (stats.runs, stats.failed, stats.last_outcome) == (1, 1, "failed")
    assert Execution.objects.get(pk=run["id"]).status == "running"  # live, not at the close


def test_a_retried_batch_records_no_result_twice(run, member_api):
    rows = [result("test_a"), result("test_b", "failed")]

    send(member_api, run["id"], "b1", rows)
    again = send(member_api, run["id"], "b1", rows)

    assert again.status_code == 200 and again.json()["duplicate"] is True
    assert CaseResult.objects.filter(execution_id=run["id"]).count() == 2
    assert sorted(CaseStats.objects.values_list("runs", flat=True)) == [1, 1]


def test_a_test_and_attempt_sent_again_under_a_new_batch_id_is_not_counted_twice(run, member_api):
    send(member_api, run["id"], "b1", [result("test_a", "failed")])

    response = send(member_api, run["id"], "b2", [result("test_a", "failed")])

    assert response.status_code == 201
    assert CaseResult.objects.filter(execution_id=run["id"]).count() == 1
    assert CaseStats.objects.get().runs == 1
    # What the client sent is still in the run's trace, as sent.
    assert len(trace_steps(trace_of(Execution.objects.get(pk=run["id"])))) == 2


def test_retries_of_a_test_are_attempts_and_a_pass_after_a_failed_try_is_flaky(run, member_api):
    send(member_api, run["id"], "b1", [result("test_a", "failed", attempt=1)])
    send(member_api, run["id"], "b2", [result("test_a", "passed", attempt=2)])

    recorded = CaseResult.objects.filter(execution_id=run["id"]).order_by("attempt_number")
    assert [(r.attempt_number, r.outcome, r.retries) for r in recorded] == [
        (1, "failed", 0),
        (2, "passed", 1),
    ]
    stats = CaseStats.objects.get()
    assert (stats.runs, stats.last_outcome, stats.is_flaky) == (2, "passed", True)
    assert stats.flaky_reason == "passed after 1 failed try in one run"


def test_a_stable_key_names_the_case_and_classname_name_match_a_junit_upload(
    run, member_api, project
):
    rows = [
        {"key": "tests/test_cart.py::test_a[1]", "outcome": "passed"},
        result("test_b"),
    ]

    assert send(member_api, run["id"], "b1", rows).status_code == 201

    keys = set(TestCase.objects.filter(project=project).values_list("key", flat=True))
    assert "tests.test_cart.test_b" in keys  # what results.junit.case_key makes of the testcase
    assert "tests/test_cart.py::test_a[1]" in keys  # a key the catalog takes stays as sent
    steps = trace_steps(trace_of(Execution.objects.get(pk=run["id"])))
    assert steps[0]["name"] == "tests/test_cart.py::test_a[1]"  # the name defaults to the key


def test_the_same_test_streamed_and_uploaded_as_junit_is_one_case(run, member_api, project):
    send(member_api, run["id"], "b1", [result("test_a", "failed")])
    xml = b'<testsuite name="s"><testcase classname="tests.test_cart" name="test_a"/></testsuite>'

    upload = member_api.post(
        f"/api/v1/imports/junit/?project={project.pk}", xml, content_type="application/xml"
    )

    assert upload.status_code == 201, upload.content
    case = TestCase.objects.get(project=project)
    assert sorted(CaseResult.objects.filter(case=case).values_list("outcome", flat=True)) == [
        "failed",
        "passed",
    ]


def test_xfailed_counts_as_skipped_and_xpassed_as_passed_keeping_what_was_sent(run, member_api):
    rows = [result("test_x", "xfailed", message="known bug"), result("test_y", "xpassed")]

    send(member_api, run["id"], "b1", rows)

    recorded = {
        r.case.key: r
        for r in CaseResult.objects.filter(execution_id=run["id"]).select_related("case")
    }
    xfail, xpass = recorded["tests.test_cart.test_x"], recorded["tests.test_cart.test_y"]
    assert (xfail.outcome, xfail.details["outcome"]) == ("skipped", "xfailed")
    assert (xpass.outcome, xpass.details["outcome"]) == ("passed", "xpassed")
    execution = Execution.objects.get(pk=run["id"])
    assert execution.summary["counts"] == {"skipped": 1, "passed": 1}


def test_long_texts_are_cut_not_refused_keeping_the_tail_of_outputs(run, member_api):
    out = "x" * 10_000 + "THE END"
    rows = [result("test_a", "failed", message="m" * 9000, stdout=out, traceback=out, stderr=out)]

    response = send(member_api, run["id"], "b1", rows)

    assert response.status_code == 201, response.content
    step = trace_steps(trace_of(Execution.objects.get(pk=run["id"])))[0]
    assert len(step["stdout"]) == 4000 and step["stdout"].endswith("THE END")
    assert step["traceback"].endswith("THE END") and step["stderr"].endswith("THE END")
    assert len(step["message"]) == 4000
    recorded = CaseResult.objects.get(execution_id=run["id"])
    assert recorded.details["system_out"].endswith("THE END")
    assert len(recorded.message) == 2000


def test_a_result_with_neither_name_nor_key_is_named_after_its_position(run, member_api):
    rows = [result("test_a"), {"classname": "tests.test_cart", "name": "", "outcome": "failed"}]

    response = send(member_api, run["id"], "b1", rows)

    assert response.status_code == 201, response.content
    steps = trace_steps(trace_of(Execution.objects.get(pk=run["id"])))
    assert steps[1]["name"] == "tests.test_cart.[unnamed 2]"
    recorded = CaseResult.objects.get(execution_id=run["id"], outcome="failed")
    assert recorded.case.name == "[unnamed 2]"


@pytest.mark.parametrize(
    "row",
    [
        {"name": "t"},  # no outcome
        {"name": "t", "outcome": "passed", "attempt": 0},
        {"name": "t", "outcome": "passed", "attempt": 101},
        {"name": "t", "outcome": "passed", "duration_ms": -1},
        {"name": "t" * 2001, "outcome": "passed"},
        {"name": "t", "outcome": "rerun"},
        {"name": "t", "outcome": "passed", "stdout": 5},
    ],
)
def test_a_result_out_of_bounds_is_a_400_and_records_nothing(run, member_api, row):
    response = send(member_api, run["id"], "b1", [result("ok"), row])

    assert response.status_code == 400
    assert response.json()["code"]  # the API's one error shape
    assert not CaseResult.objects.exists() and not ReportedBatch.objects.exists()


def test_a_batch_of_more_than_5000_results_is_a_400(run, member_api):
    rows = [{"name": f"t{i}", "outcome": "passed"} for i in range(5001)]

    with override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=10_000_000):
        response = send(member_api, run["id"], "b1", rows)

    assert response.status_code == 400
    assert not CaseResult.objects.exists()


@override_settings(IB_TRACE_INLINE_MAX_STEPS=5)
def test_a_batch_crossing_the_inline_threshold_moves_the_trace_to_rows_in_order(run, member_api):
    send(member_api, run["id"], "b1", [result(f"test_{i}") for i in range(3)])
    send(member_api, run["id"], "b2", [result(f"test_{i}", "failed") for i in range(3, 8)])
    send(member_api, run["id"], "b3", [result("test_8")])

    trace = trace_of(Execution.objects.get(pk=run["id"]))
    assert trace.storage == TraceStorage.ROWS and trace.steps == []
    assert [s["order"] for s in trace_steps(trace)] == list(range(1, 10))
    assert StepRecord.objects.filter(trace=trace).count() == 9
    assert trace.counts == {"passed": 4, "failed": 5}
    assert CaseResult.objects.filter(execution_id=run["id"]).count() == 9


def test_only_a_tester_of_the_project_records_results(run, viewer_api, stranger_api, anon_api):
    for client, code in ((viewer_api, 403), (stranger_api, 404), (anon_api, 401)):
        assert send(client, run["id"], "x", [result("test_a")]).status_code == code
    assert not CaseResult.objects.exists()


def test_a_closed_run_records_no_late_results(run, member_api):
    member_api.post(f"{URL}{run['id']}/close/", {}, format="json")

    response = send(member_api, run["id"], "late", [result("test_a")])

    assert response.status_code == 409
    assert not CaseResult.objects.exists()


def test_the_case_history_lists_a_reported_result(run, member_api):
    send(member_api, run["id"], "b1", [result("test_a", "failed", message="boom")])
    case = TestCase.objects.get()

    history = member_api.get(f"/api/v1/analytics/cases/{case.pk}/history/")

    assert history.status_code == 200, history.content
    body = history.json()
    rows = body["results"] if isinstance(body, dict) else body
    assert [(r["outcome"], r["message"]) for r in rows] == [("failed", "boom")]


def test_nuls_and_broken_surrogates_in_texts_are_replaced_not_refused(run, member_api):
    body = json.dumps(
        {
            "batch_id": "b1",
            "results": [result("test_a", "failed", stdout="a\x00b\ud800c", message="m\x00")],
        }
    )

    response = member_api.post(f"{URL}{run['id']}/batches/", body, content_type="application/json")

    assert response.status_code == 201, response.content
    assert response.json()["replaced_characters"] == 3  # and says so
    step = trace_steps(trace_of(Execution.objects.get(pk=run["id"])))[0]
    assert (step["stdout"], step["message"]) == ("a\ufffdb\ufffdc", "m\ufffd")
    assert CaseResult.objects.get().details["system_out"] == "a\ufffdb\ufffdc"


def test_a_nul_in_a_key_of_the_batch_is_still_a_400(run, member_api):
    body = json.dumps({"batch_id": "b1", "results": [{"name\x00": "t", "outcome": "passed"}]})

    response = member_api.post(f"{URL}{run['id']}/batches/", body, content_type="application/json")

    assert response.status_code == 400 and response.json()["code"] == "parse_error"
    assert not ReportedBatch.objects.exists()


def test_a_batch_nested_too_deep_is_a_400(run, member_api):
    deep = "[" * 200 + "]" * 200
    body = '{"batch_id": "b1", "results": [{"name": "t", "outcome": "passed", "stdout": ' + deep
    body += "}]}"

    response = member_api.post(f"{URL}{run['id']}/batches/", body, content_type="application/json")

    assert response.status_code == 400 and "nested deeper" in response.json()["message"]


def test_the_runs_report_lists_its_results_in_every_format(run, member_api):
    rows = [result("test_a", duration_ms=5), result("test_b", "failed", message="boom")]
    rows.append(result("test_b", "passed", attempt=2))
    send(member_api, run["id"], "b1", rows)

    def body(suffix):
        response = member_api.get(f"/api/v1/executions/{run['id']}/report/{suffix}")
        assert response.status_code == 200
        return b"".join(response.streaming_content)

    report = json.loads(body(""))
    junit = body("?as=junit")

    assert report["title"] == f"Reported run #{run['id']}: pytest"
    assert report["totals"] == {
        "tests": 3,
        "passed": 2,
        "failed": 1,
        "error": 0,
        "skipped": 0,
        "retries": 1,
    }
    assert [(c["name"], c["outcome"]) for c in report["cases"]] == [
        ("test_a", "passed"),
        ("test_b", "failed"),
        ("test_b", "passed"),
    ]
    assert b'tests="3" failures="1"' in junit
