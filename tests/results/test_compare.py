"""Comparing two runs (results.compare): every bucket, on imports, engine suite runs and
reported runs, and the previous comparable run (results.run_refs)."""

import io

import pytest

from catalog.models import SuiteItem
from engine import worker as engine
from executions.models import Execution
from executions.serializers.reported import ReportedResultSerializer, result_step
from executions.services import reported
from results.compare import runs_compare
from results.errors import InvalidQuery
from results.imports import junit_import
from results.run_refs import run_previous, run_resolve, runs_for_compare
from tests.factories import ProjectFactory, TestCaseFactory, execution_for

pytestmark = pytest.mark.django_db


def junit(*cases: tuple) -> bytes:
    """A JUnit report of (name, outcome, seconds[, message]) testcases of class `shop`."""
    body = []
    for name, outcome, seconds, *message in cases:
        inner = ""
        if outcome in ("failure", "error"):
            text = message[0] if message else "boom"
            inner = f'<{outcome} message="{text}" type="AssertionError">{text}\ntrace</{outcome}>'
        elif outcome == "skipped":
            inner = "<skipped/>"
        body.append(f'<testcase classname="shop" name="{name}" time="{seconds}">{inner}</testcase>')
    return f'<testsuites name="shop"><testsuite name="shop">{"".join(body)}</testsuite></testsuites>'.encode()


def upload(project, report: bytes, branch="main"):
    batch, _ = junit_import(project=project, stream=io.BytesIO(report), branch=branch)
    return run_resolve(f"import:{batch.pk}")


BASE = junit(
    ("turns_red", "passed", 0.1),
    ("turns_green", "failure", 0.1, "price was 3"),
    ("same_fault", "failure", 0.1, "timeout after 5s"),
    ("other_fault", "failure", 0.1, "price was 4"),
    ("got_slow", "passed", 1.0),
    ("tiny_slowdown", "passed", 0.001),
    ("steady", "passed", 0.5),
    ("was_skipped", "skipped", 0),
    ("goes_away", "passed", 0.1),
)
HEAD = junit(
    ("turns_red", "failure", 0.1, "cart is empty"),
    ("turns_green", "passed", 0.1),
    ("same_fault", "failure", 0.1, "timeout after 5s"),
    ("other_fault", "error", 0.1, "connection refused"),
    ("got_slow", "passed", 2.0),
    ("tiny_slowdown", "passed", 0.003),
    ("steady", "passed", 0.55),
    ("was_skipped", "failure", 0.1, "now it runs and fails"),
    ("brand_new", "failure", 0.2, "new and broken"),
)


def keys(comparison, bucket: str) -> list[str]:
    return [row.key for row in comparison.buckets[bucket]]


@pytest.fixture
def imports(project):
    return upload(project, BASE), upload(project, HEAD)


def test_a_test_that_passed_or_was_skipped_and_now_fails_is_newly_failing(imports):
    comparison = runs_compare(*imports)

    assert keys(comparison, "newly_failing") == ["shop.turns_red", "shop.was_skipped"]


def test_a_test_that_failed_and_now_passes_is_fixed(imports):
    assert keys(runs_compare(*imports), "fixed") == ["shop.turns_green"]


def test_still_failing_tells_the_same_signature_from_another(imports):
    rows = {row.key: row for row in runs_compare(*imports).buckets["still_failing"]}

    assert set(rows) == {"shop.same_fault", "shop.other_fault"}
    assert rows["shop.same_fault"].same_signature
    assert not rows["shop.other_fault"].same_signature
    assert rows["shop.other_fault"].head.message == "connection refused"


def test_tests_only_in_head_are_new_and_only_in_base_removed(imports):
    comparison = runs_compare(*imports)

    assert keys(comparison, "new_tests") == ["shop.brand_new"]
    assert keys(comparison, "removed_tests") == ["shop.goes_away"]
    assert comparison.buckets["removed_tests"][0].head is None


def test_slower_needs_both_the_ratio_and_the_minimum_delta(imports):
    comparison = runs_compare(*imports, ratio=1.5, min_delta_ms=200)

    # 1 s -> 2 s is; 1 ms -> 3 ms is three times slower but no news; 500 -> 550 ms is under 1.5x.
    assert keys(comparison, "slower") == ["shop.got_slow"]
    assert comparison.buckets["slower"][0].ratio == 2.0


def test_a_lower_minimum_delta_reports_the_tiny_slowdown_too(imports):
    comparison = runs_compare(*imports, ratio=1.5, min_delta_ms=1)

    assert keys(comparison, "slower") == ["shop.got_slow", "shop.tiny_slowdown"]


def test_counts_cover_every_test_once(imports):
    counts = runs_compare(*imports).counts

    assert counts == {
        "newly_failing": 2,
        "still_failing": 2,
        "fixed": 1,
        "new_tests": 1,
        "removed_tests": 1,
        "slower": 1,
        "unchanged": 2,  # steady, tiny_slowdown
    }


def test_something_newly_fails_counts_a_new_test_that_fails(project):
    base = upload(project, junit(("a", "passed", 0.1)))
    head = upload(project, junit(("a", "passed", 0.1), ("b", "failure", 0.1)))

    comparison = runs_compare(base, head)

    assert not comparison.buckets["newly_failing"]
    assert comparison.something_newly_fails


def test_same_results_newly_fail_nothing(project):
    base = upload(project, junit(("a", "passed", 0.1), ("b", "failure", 0.1)))
    head = upload(project, junit(("a", "passed", 0.1), ("b", "failure", 0.1), ("c", "passed", 1)))

    assert not runs_compare(base, head).something_newly_fails


def test_runs_of_two_projects_are_refused(project):
    base = upload(project, BASE)
    head = upload(ProjectFactory(), HEAD)

    with pytest.raises(InvalidQuery):
        runs_compare(base, head)
    with pytest.raises(InvalidQuery):
        runs_for_compare(base.ref, head.ref)


def test_a_ratio_below_one_is_refused(imports):
    with pytest.raises(InvalidQuery):
        runs_compare(*imports, ratio=0.5)


@pytest.mark.parametrize("ref", ["", "execution:", "exec:1", "import:-1", "1; drop", "x" * 80])
def test_a_ref_that_names_no_run_is_refused(ref):
    with pytest.raises(InvalidQuery):
        run_resolve(ref)


# --- engine suite runs ---------------------------------------------------------------------------


@pytest.fixture
def suite_run(project, make_suite):
    """suite_run(suite, x=1, branch=...) -> the finished suite run, through the real engine."""

    def run(suite, *, x=1, branch="main"):
        execution = execution_for(suite=suite, parameters={"x": x}, branch=branch)
        while engine.run_next(worker="w") is not None:
            pass
        execution.refresh_from_db()
        return run_resolve(f"execution:{execution.pk}")

    return run


def x_is_1(project, key):
    return TestCaseFactory(
        project=project,
        key=key,
        steps=[{"name": "x is 1", "action": "assert", "params": {"variable": "x", "equals": 1}}],
    )


def test_suite_runs_compare_by_their_children_with_added_and_removed_cases(
    project, make_suite, suite_run
):
    kept, dropped = x_is_1(project, "kept"), x_is_1(project, "dropped")
    suite = make_suite(kept, dropped)
    base = suite_run(suite, x=1)
    SuiteItem.objects.filter(suite=suite, case=dropped).delete()
    added = x_is_1(project, "added")
    SuiteItem.objects.create(suite=suite, case=added, order=5)

    head = suite_run(suite, x=2)
    comparison = runs_compare(base, head)

    assert keys(comparison, "newly_failing") == ["kept"]
    assert keys(comparison, "new_tests") == ["added"]
    assert keys(comparison, "removed_tests") == ["dropped"]
    assert comparison.buckets["newly_failing"][0].head.execution_id is not None
    assert comparison.buckets["newly_failing"][0].case_id == kept.pk


def test_the_previous_comparable_run_is_finished_older_and_on_the_same_branch(
    project, make_suite, suite_run
):
    suite = make_suite(x_is_1(project, "one"))
    first = suite_run(suite)
    suite_run(suite, branch="feature")  # another branch
    second = suite_run(suite, x=2)
    execution_for(suite=suite, branch="main")  # newer, not finished
    other_suite = make_suite(x_is_1(project, "two"))
    suite_run(other_suite)  # another suite

    assert run_previous(second) == first
    assert run_previous(first) is None
    base, head = runs_for_compare("previous", second.ref)
    assert (base, head) == (first, second)


def test_the_previous_import_has_the_same_name_and_branch(project):
    first = upload(project, BASE)
    upload(project, BASE, branch="feature")
    second = upload(project, HEAD)

    assert run_previous(second) == first


# --- reported runs -------------------------------------------------------------------------------


def report(project, results: list[tuple]):
    run = reported.reported_run_open(project=project, name="shop", branch="main", lease_seconds=60)
    rows = []
    for name, outcome, ms, *message in results:
        classname, _, test = name.rpartition(".")
        row = {"classname": classname, "name": test, "outcome": outcome, "duration_ms": ms}
        if outcome in ("failed", "error"):
            row["message"] = message[0] if message else "boom"
        rows.append(row)
    # Read as the batch API reads them, so the steps are those a client's batch makes.
    serializer = ReportedResultSerializer(data=rows, many=True)
    serializer.is_valid(raise_exception=True)
    steps = [result_step(row) for row in serializer.validated_data]
    reported.reported_run_append(run.pk, batch_id="1", results=steps)
    reported.reported_run_close(run.pk)
    return run_resolve(f"execution:{run.pk}")


def test_reported_runs_compare_by_test_name(project):
    base = report(project, [("shop.a", "passed", 10), ("shop.b", "failed", 10, "x\nmore")])
    head = report(project, [("shop.a", "failed", 10, "y"), ("shop.b", "failed", 10, "x")])

    comparison = runs_compare(base, head)

    assert keys(comparison, "newly_failing") == ["shop.a"]
    assert comparison.buckets["still_failing"][0].same_signature
    assert run_previous(head) == base


def test_a_reported_run_compares_with_an_import_of_the_same_tests(project):
    base = upload(project, junit(("a", "passed", 0.1), ("b", "passed", 0.1)))
    head = report(project, [("shop.a", "passed", 10), ("shop.b", "error", 10, "gone")])

    assert keys(runs_compare(base, head), "newly_failing") == ["shop.b"]


def test_a_test_reported_twice_in_one_run_counts_with_its_last_result(project):
    base = upload(project, junit(("a", "passed", 0.1), ("b", "passed", 0.1)))
    head = upload(project, junit(("a", "passed", 0.1), ("b", "failure", 0.1), ("b", "passed", 0.1)))

    comparison = runs_compare(base, head)

    assert comparison.counts["newly_failing"] == 0
    assert comparison.unchanged == 2


def test_two_identical_runs_are_all_unchanged(project):
    report = junit(("a", "passed", 0.1), ("b", "skipped", 0), ("c", "passed", 1))
    base, head = upload(project, report), upload(project, report)

    comparison = runs_compare(base, head)

    assert comparison.counts == dict.fromkeys(comparison.counts, 0) | {"unchanged": 3}


def test_a_suite_runs_child_compares_with_the_same_case_in_the_previous_suite_run(
    project, make_suite, suite_run
):
    case = x_is_1(project, "one")
    suite = make_suite(case)
    first = suite_run(suite)
    second = suite_run(suite, x=2)
    child_of = {run.id: Execution.objects.get(parent_id=run.id) for run in (first, second)}

    previous = run_previous(run_resolve(f"execution:{child_of[second.id].pk}"))

    assert previous.id == child_of[first.id].pk
