"""executions.rows: the engine's row reads give the executions the ORM would, and lock them."""

import threading

import pytest
from django.conf import settings
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from executions.models import Execution
from executions.rows import lock_execution, select_executions
from tests.factories import TestCaseFactory, execution_for

pytestmark = pytest.mark.django_db


def fields_of(execution: Execution) -> dict:
    return {f.attname: getattr(execution, f.attname) for f in Execution._meta.concrete_fields}


def test_the_locked_execution_equals_the_orms_with_its_project_loaded(project):
    project.max_concurrency = 3
    project.save()
    execution = execution_for(
        TestCaseFactory(project=project),
        labels={"team": "web"},
        parameters={"n": 1},
        revision="abc",
    )
    expected = Execution.objects.select_related("project").get(pk=execution.pk)

    with transaction.atomic():
        got = lock_execution(execution.pk)
        with CaptureQueriesContext(connection) as queries:
            assert got.project.max_concurrency == 3  # loaded with the row: no query
    assert not queries.captured_queries
    assert fields_of(got) == fields_of(expected)
    assert got.queued_at.tzinfo is not None and got.labels == {"team": "web"}


def test_selected_executions_come_with_their_related_rows_in_order(project):
    cases = TestCaseFactory.create_batch(3, project=project)
    created = [execution_for(case, priority=p) for case, p in zip(cases, (10, 90, 50), strict=True)]

    with CaptureQueriesContext(connection) as queries:
        got = select_executions(
            "e.project_id = %s",
            [project.pk],
            related=("project", "test_case"),
            tail="ORDER BY e.priority DESC",
        )
        keys = [(e.test_case.key, e.project.slug) for e in got]

    assert len(queries.captured_queries) == 1
    assert [e.pk for e in got] == [created[1].pk, created[2].pk, created[0].pk]
    assert keys == [(cases[i].key, project.slug) for i in (1, 2, 0)]
    assert got[0].test_case.steps == cases[1].steps


def test_a_locked_execution_saves_only_what_changed(project):
    execution = execution_for(TestCaseFactory(project=project))
    with transaction.atomic():
        got = lock_execution(execution.pk, with_project=False)
        got.status_reason = "looked at"
        with CaptureQueriesContext(connection) as queries:
            got.save()
    [update] = [q["sql"] for q in queries if q["sql"].startswith("UPDATE")]
    assert '"status_reason"' in update and '"labels"' not in update


def test_a_missing_execution_raises_does_not_exist():
    with transaction.atomic(), pytest.raises(Execution.DoesNotExist):
        lock_execution(987654)


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(not settings.IS_POSTGRES, reason="row locks are PostgreSQL's")
def test_the_row_stays_locked_until_the_transaction_ends(project):
    execution = execution_for(TestCaseFactory(project=project))
    seen = []

    def other_worker():
        try:
            with transaction.atomic():
                free = Execution.objects.select_for_update(skip_locked=True).filter(pk=execution.pk)
                seen.append(free.exists())
        finally:
            connection.close()

    with transaction.atomic():
        lock_execution(execution.pk)
        thread = threading.Thread(target=other_worker)
        thread.start()
        thread.join(timeout=30)
    assert seen == [False]
