"""Races between workers, on PostgreSQL (where row locks and SKIP LOCKED are real)."""

import threading

import pytest
from django.conf import settings
from django.db import connection, transaction

from executions.models import EventKind, Execution, ExecutionStatus
from executions.rows import lock_execution
from executions.services import claim, worker_writes
from tests.factories import TestCaseFactory, execution_for

S = ExecutionStatus
pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not settings.IS_POSTGRES, reason="row-lock races need PostgreSQL"),
]


def in_threads(count, target):
    """Run target(i) in `count` threads released at the same instant; return their results."""
    barrier = threading.Barrier(count)
    results, errors = [None] * count, []

    def run(i):
        try:
            barrier.wait()
            results[i] = target(i)
        except Exception as exc:  # surfaced below, so a failing thread fails the test
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    return results


def test_racing_workers_never_claim_one_execution_twice(project):
    executions = [execution_for(TestCaseFactory(project=project)) for _ in range(30)]

    def drain(i):
        claimed = []
        while (execution := claim.execution_claim_next(worker=f"w{i}")) is not None:
            claimed.append(execution.pk)
        return claimed

    per_worker = in_threads(4, drain)

    claimed = [pk for ids in per_worker for pk in ids]
    assert sorted(claimed) == sorted(e.pk for e in executions)
    assert len(set(claimed)) == len(claimed)


def test_duplicate_doorbells_start_one_execution_once(case):
    execution = execution_for(case)

    results = in_threads(6, lambda i: claim.execution_claim_next(worker=f"w{i}"))

    started = [r.pk for r in results if r is not None]
    assert started == [execution.pk]
    execution.refresh_from_db()
    assert execution.events.filter(kind=EventKind.TRANSITION, to_status=S.RUNNING).count() == 1


def test_children_finishing_at_the_same_instant_roll_the_suite_up_once(project, make_suite):
    cases = [TestCaseFactory(project=project) for _ in range(4)]
    parent = execution_for(suite=make_suite(*cases, max_parallel=4))
    children = [claim.execution_claim_next(worker=f"w{i}") for i in range(4)]

    in_threads(
        4,
        lambda i: worker_writes.execution_complete(
            children[i].pk, outcome=S.PASSED, worker=f"w{i}", attempt=1, reason="ok"
        ),
    )

    parent.refresh_from_db()
    assert parent.status == S.PASSED
    finishes = parent.events.filter(kind=EventKind.TRANSITION, from_status=S.RUNNING)
    assert finishes.count() == 1
    assert parent.summary["counts"] == {S.PASSED: 4}


def test_strict_priority_holds_across_racing_workers(project):
    from executions.models import Priority

    for priority in [Priority.LOW, Priority.CRITICAL, Priority.NORMAL, Priority.HIGH] * 3:
        execution_for(TestCaseFactory(project=project), priority=priority)
    lock = threading.Lock()
    order = []

    def drain(i):
        while True:
            with lock:  # record claim order as seen by the database, one claim at a time
                execution = claim.execution_claim_next(worker=f"w{i}")
                if execution is None:
                    return
                order.append(execution.priority)

    in_threads(3, drain)

    assert order == sorted(order, reverse=True)


def test_racing_workers_never_run_more_than_the_projects_limit(project):
    project.max_concurrency = 2
    project.save()
    executions = [execution_for(TestCaseFactory(project=project)) for _ in range(6)]

    results = in_threads(4, lambda i: claim.execution_claim_next(worker=f"w{i}"))

    assert len([r for r in results if r is not None]) == 2
    ids = [e.pk for e in executions]
    assert Execution.objects.filter(pk__in=ids, status=S.RUNNING).count() == 2


def test_racing_workers_never_run_more_children_than_the_suites_max_parallel(project, make_suite):
    cases = [TestCaseFactory(project=project) for _ in range(6)]
    parent = execution_for(suite=make_suite(*cases, max_parallel=2))

    def claim_until_refused(i):
        claimed = 0
        while claim.execution_claim_next(worker=f"w{i}") is not None:
            claimed += 1
        return claimed

    in_threads(4, claim_until_refused)

    assert parent.children.filter(status=S.RUNNING).count() == 2
    assert parent.children.filter(status=S.QUEUED).count() == 4


def test_a_claim_passes_over_a_suite_run_another_transaction_holds_and_takes_other_work(
    project, make_suite
):
    parent = execution_for(suite=make_suite(TestCaseFactory(project=project)))
    other = execution_for(TestCaseFactory(project=project))  # queued after the child: second best
    held, release = threading.Event(), threading.Event()

    def finishing_sibling():  # a child's finish locks its suite run first (lifecycle's lock order)
        try:
            with transaction.atomic():
                lock_execution(parent.pk)
                held.set()
                release.wait(timeout=30)
        finally:
            connection.close()

    holder = threading.Thread(target=finishing_sibling)
    holder.start()
    try:
        assert held.wait(timeout=30)
        taken = claim.execution_claim_next(worker="w1")
    finally:
        release.set()
        holder.join(timeout=30)

    assert taken.pk == other.pk
    assert claim.execution_claim_next(worker="w2").parent_id == parent.pk  # once let go
