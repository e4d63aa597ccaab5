"""Two imports of the same new faults at once (PostgreSQL, real row locks): one group per
signature, every hit counted, no deadlock."""

import io

import pytest
from django.conf import settings

from results.imports import junit_import
from tests.executions.test_concurrency import in_threads
from tests.triage.conftest import report
from triage.models import FailureGroup, GroupHit

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not settings.IS_POSTGRES, reason="row-lock races need PostgreSQL"),
]


def test_concurrent_imports_of_the_same_new_faults_share_their_groups(project):
    faults = ("refused", "assert", "npe", "timeout")
    # different tests in each report (so the cases differ), the same four faults in both
    reports = [
        report({f"t{who}_{i}": faults[i % 4] for i in range(120)}, n=who + 1) for who in range(2)
    ]

    in_threads(
        2,
        lambda i: junit_import(
            project=project, stream=io.BytesIO(reports[i]), branch="main", revision=f"r{i}"
        ),
    )

    groups = FailureGroup.objects.filter(project=project)
    assert groups.count() == 4
    assert sorted(groups.values_list("occurrences", flat=True)) == [60, 60, 60, 60]
    assert sorted(groups.values_list("cases_hit", flat=True)) == [60, 60, 60, 60]
    assert GroupHit.objects.count() == 240
