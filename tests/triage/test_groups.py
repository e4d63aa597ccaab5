"""Failure groups over a sequence of runs: new, known, regressed, fixed; counts and branches."""

import pytest

from results.runs import RunRef
from results.summaries import run_summary
from triage.models import CaseFix, FailureGroup, GroupHit

pytestmark = pytest.mark.django_db


def _states(batch) -> dict[str, str]:
    return dict(
        GroupHit.objects.filter(run=RunRef.of_batch(batch.pk).key).values_list(
            "case__name", "state"
        )
    )


def test_states_over_a_sequence_of_runs(upload):
    first = upload({"pays": "refused", "lists": "pass"})
    second = upload({"pays": "refused", "lists": "pass"})
    third = upload({"pays": "pass", "lists": "pass"})
    fourth = upload({"pays": "refused", "lists": "pass"})
    other_branch = upload({"pays": "refused", "lists": "pass"}, branch="release/2")

    assert _states(first) == {"pays": "new"}
    assert _states(second) == {"pays": "known"}
    assert _states(third) == {}
    assert list(
        CaseFix.objects.filter(run=f"import:{third.pk}").values_list("case__name", flat=True)
    ) == ["pays"]
    assert _states(fourth) == {"pays": "regressed"}
    assert _states(other_branch) == {"pays": "new"}  # never seen on that branch before


def test_one_group_per_signature_counts_occurrences_cases_and_branches(upload):
    upload({"pays": "refused", "lists": "refused", "adds": "assert"})
    upload({"pays": "refused", "lists": "pass", "adds": "assert"}, branch="dev")

    refused = FailureGroup.objects.get(error_type="java.net.ConnectException")
    assert (refused.occurrences, refused.cases_hit) == (3, 2)
    assert set(refused.branches) == {"main", "dev"}
    assert refused.revisions == ["r1", "r2"]
    assert FailureGroup.objects.count() == 2


def test_a_fault_that_stays_failing_is_not_fixed_and_a_first_pass_is_not_either(upload):
    upload({"pays": "refused"})
    second = upload({"pays": "assert", "new": "pass"})

    assert not CaseFix.objects.filter(run=f"import:{second.pk}").exists()
    # a different fault on the same case is a new group, not the old one known
    assert _states(second) == {"pays": "new"}


def test_the_run_summary_leads_with_new_then_regressed_then_fixed_then_known(upload):
    upload({"a": "refused", "b": "assert", "c": "npe"})
    upload({"a": "pass", "b": "assert", "c": "npe"})
    batch = upload({"a": "refused", "b": "pass", "c": "npe", "d": "timeout"})

    matters = run_summary(RunRef.of_batch(batch.pk))["what_matters"]
    assert matters["counts"] == {
        "new": 1,
        "regressed": 1,
        "fixed": 1,
        "known": 1,
        "known_triaged": 0,
    }
    assert matters["new"][0]["error_type"] == "java.util.concurrent.TimeoutException"
    assert matters["regressed"][0]["error_type"] == "java.net.ConnectException"
    assert [f["key"] for f in matters["fixed"]] == ["com.acme.CartTest.b"]
    assert matters["known"][0]["error_type"] == "java.lang.NullPointerException"


def test_engine_runs_join_the_same_groups_as_their_run(project, run, x_case):
    first = run(x_case, x=2)
    second = run(x_case, x=3)
    run(x_case, x=1)
    fourth = run(x_case, x=4)

    states = list(GroupHit.objects.order_by("id").values_list("run", "state"))
    assert states == [
        (f"execution:{first.pk}", "new"),
        (f"execution:{second.pk}", "known"),
        (f"execution:{fourth.pk}", "regressed"),
    ]
    assert FailureGroup.objects.get().occurrences == 3


def test_an_import_of_many_failures_writes_every_hit_once(upload):
    # past core.bulk.COPY_MIN_ROWS: the hits go through COPY on PostgreSQL
    outcomes = {f"t{i}": ("refused", "assert", "npe")[i % 3] for i in range(150)}

    batch = upload(outcomes)

    assert GroupHit.objects.filter(run=f"import:{batch.pk}").count() == 150
    assert sorted(FailureGroup.objects.values_list("cases_hit", flat=True)) == [50, 50, 50]
