"""executions.rows: the engine's row reads give the executions the ORM would, and lock them."""

import threading

import pytest
from django.conf import settings
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from catalog.models import Project, TestCase
from engine import worker as engine
from executions.models import Execution, ExecutionStatus, Priority
from executions.rows import claim_candidates, claimable_exists, lock_execution
from executions.selectors import queue_claimable
from executions.services import claim
from tests.factories import TestCaseFactory, execution_for

S = ExecutionStatus
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


def test_claim_candidates_come_best_first_with_their_project_and_case_in_one_statement(project):
    cases = TestCaseFactory.create_batch(3, project=project)
    created = [execution_for(case, priority=p) for case, p in zip(cases, (10, 90, 50), strict=True)]

    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        got = claim_candidates(limit=3)
        keys = [(e.test_case.key, e.project.slug) for e in got]

    assert len(queries.captured_queries) == 1
    assert [e.pk for e in got] == [created[1].pk, created[2].pk, created[0].pk]
    assert keys == [(cases[i].key, project.slug) for i in (1, 2, 0)]
    assert got[0].test_case.steps == cases[1].steps


def test_a_locked_execution_saves_the_columns_it_is_told_to(project):
    # The services save with explicit columns (executions.services.transitions): an instance
    # built from these rows must honour them as one the ORM loaded would.
    execution = execution_for(TestCaseFactory(project=project))
    with transaction.atomic():
        got = lock_execution(execution.pk, with_project=False)
        got.status_reason = "looked at"
        with CaptureQueriesContext(connection) as queries:
            got.save(update_fields=["status_reason"])
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


def related_fields_of(execution: Execution) -> tuple:
    return (
        {f.attname: getattr(execution.project, f.attname) for f in Project._meta.concrete_fields},
        {
            f.attname: getattr(execution.test_case, f.attname)
            for f in TestCase._meta.concrete_fields
        },
    )


@pytest.fixture
def mixed_queue(project, other_project, make_suite, failing_case):
    """Queued work of every kind, some claimable, some held back: a delayed retry, a project at
    its limit, a suite run at its max_parallel, a suite run that is stopping, and claimable runs
    at three priorities, alone and in a suite run with room."""
    execution_for(failing_case, max_retries=1, retry_backoff_seconds=600)
    engine.run_next(worker="w")  # fails, queued again for ten minutes from now
    other_project.max_concurrency = 1
    other_project.save()
    execution_for(TestCaseFactory(project=other_project))
    claim.execution_claim_next(worker="w")
    execution_for(TestCaseFactory(project=other_project))  # held back by the project's limit
    full = execution_for(
        suite=make_suite(*TestCaseFactory.create_batch(3, project=project), max_parallel=1)
    )
    claim.execution_claim_next(worker="w")  # its first child; the two others wait
    assert full.children.filter(status=S.RUNNING).count() == 1
    stopping = execution_for(
        suite=make_suite(*TestCaseFactory.create_batch(2, project=project), max_parallel=2)
    )
    stopping = Execution.objects.get(pk=stopping.pk)
    stopping.request_cancel(reason="stopping")
    stopping.save()
    for priority in (Priority.LOW, Priority.HIGH, Priority.NORMAL, Priority.HIGH):
        execution_for(TestCaseFactory(project=project), priority=priority)
    roomy = make_suite(*TestCaseFactory.create_batch(2, project=project), max_parallel=3)
    return execution_for(suite=roomy, priority=Priority.LOW)


def orm_reading(candidates) -> list[Execution]:
    """The claim's read as the ORM writes it."""
    with transaction.atomic():
        return list(
            candidates.select_related("project", "test_case")
            .order_by("-priority", "queued_at", "id")
            .select_for_update(skip_locked=True, of=("self",))
        )


def test_claim_candidates_are_the_orms_claimable_executions_in_the_claims_order(mixed_queue):
    expected = orm_reading(queue_claimable())
    with transaction.atomic():
        got = claim_candidates(limit=100)

    assert len(expected) == 6  # four runs alone, two children of the suite run with room
    assert [fields_of(e) for e in got] == [fields_of(e) for e in expected]
    assert [related_fields_of(e) for e in got] == [related_fields_of(e) for e in expected]


def test_claim_candidates_leave_out_refused_runs_and_suites_as_the_orm_does(mixed_queue):
    everything = orm_reading(queue_claimable())
    refused = {everything[0].pk}
    expected = orm_reading(
        queue_claimable().exclude(pk__in=refused).exclude(parent_id__in=[mixed_queue.pk])
    )
    with transaction.atomic():
        got = claim_candidates(limit=100, refused=refused, refused_parents={mixed_queue.pk})

    assert len(expected) == 3
    assert [fields_of(e) for e in got] == [fields_of(e) for e in expected]


def test_claimable_exists_says_of_each_execution_what_the_orm_says(mixed_queue):
    claimable = set(queue_claimable().values_list("pk", flat=True))

    for execution_id in Execution.objects.values_list("pk", flat=True):
        assert claimable_exists(execution_id) == (execution_id in claimable), execution_id
    assert claimable_exists()
