"""Claimable is defined once (executions.selectors.queue_claimable): the claim, the doorbell after
a finish, health's overdue count and queue_status agree on what a worker may start now, whatever
holds the work back, and agree again once the hold is lifted."""

from datetime import timedelta

import pytest
from django.utils import timezone

from engine import worker as engine
from executions.models import Execution, ExecutionStatus
from executions.selectors import queue_claimable, queue_overdue, queue_status
from executions.services import claim, lifecycle, queue, worker_writes
from tests.factories import TestCaseFactory, execution_for

S = ExecutionStatus
pytestmark = pytest.mark.django_db


def readings() -> dict:
    """What each reader says about the queue, the claim last (it changes the queue)."""
    overdue = queue_overdue(timedelta(0)) or {"count": 0}
    return {
        "selector": queue_claimable().count(),
        "doorbell after a finish": lifecycle._has_queued_work(),
        "queue_status": queue_status()["claimable"],
        "health (overdue)": overdue["count"],
        "claim": claim.execution_claim_next(worker="probe"),
    }


def nothing_claimable() -> dict:
    return {
        "selector": 0,
        "doorbell after a finish": False,
        "queue_status": 0,
        "health (overdue)": 0,
        "claim": None,
    }


def only(target: Execution) -> dict:
    return {
        "selector": 1,
        "doorbell after a finish": True,
        "queue_status": 1,
        "health (overdue)": 1,
        "claim": target,
    }


def finish(execution: Execution, worker: str) -> None:
    worker_writes.execution_complete(execution.pk, outcome=S.PASSED, worker=worker, attempt=1)


# Each scenario leaves one queued execution held back and returns it with what lifts the hold.


def delayed_retry(project, make_suite):
    failing = TestCaseFactory(
        project=project,
        steps=[{"name": "x is 2", "action": "assert", "params": {"variable": "x", "equals": 2}}],
    )
    target = execution_for(failing, max_retries=1, retry_backoff_seconds=600)
    engine.run_next(worker="w")
    target.refresh_from_db()
    assert target.status == S.QUEUED and target.not_before > timezone.now()

    def backoff_over():
        # The clock moves on: the row's not-before is what the readers compare with now.
        Execution.objects.filter(pk=target.pk).update(not_before=timezone.now())

    return target, backoff_over


def paused_queue(project, make_suite):
    target = execution_for(TestCaseFactory(project=project))
    queue.queue_pause(reason="maintenance")
    return target, queue.queue_resume


def project_at_max_concurrency(project, make_suite):
    project.max_concurrency = 1
    project.save()
    running = execution_for(TestCaseFactory(project=project))
    assert claim.execution_claim_next(worker="w").pk == running.pk
    target = execution_for(TestCaseFactory(project=project))
    return target, lambda: finish(running, "w")


def suite_at_max_parallel(project, make_suite):
    cases = TestCaseFactory.create_batch(2, project=project)
    parent = execution_for(suite=make_suite(*cases, max_parallel=1))
    running = claim.execution_claim_next(worker="w")
    assert running.parent_id == parent.pk
    target = parent.children.get(status=S.QUEUED)
    return target, lambda: finish(running, "w")


SCENARIOS = [delayed_retry, paused_queue, project_at_max_concurrency, suite_at_max_parallel]


@pytest.mark.parametrize("hold", SCENARIOS, ids=lambda f: f.__name__)
def test_every_reader_sees_held_back_work_as_not_claimable(hold, project, make_suite):
    hold(project, make_suite)

    assert readings() == nothing_claimable()


@pytest.mark.parametrize("hold", SCENARIOS, ids=lambda f: f.__name__)
def test_every_reader_sees_the_work_once_the_hold_is_lifted_and_the_claim_takes_it(
    hold, project, make_suite
):
    target, lift = hold(project, make_suite)
    lift()

    assert readings() == only(target)
    target.refresh_from_db()
    assert target.status == S.RUNNING and target.worker == "probe"


def test_every_reader_passes_over_the_children_of_a_suite_run_that_is_stopping(project, make_suite):
    cases = TestCaseFactory.create_batch(2, project=project)
    parent = execution_for(suite=make_suite(*cases, max_parallel=2))
    # The suite run stops (a cancel, a fail-fast) before its children do: the transition alone.
    stopping = Execution.objects.get(pk=parent.pk)
    stopping.request_cancel(reason="stopping")
    stopping.save()

    assert readings() == nothing_claimable()
    assert parent.children.filter(status=S.QUEUED).count() == 2


def test_work_nothing_holds_back_is_claimable_to_every_reader(project):
    target = execution_for(TestCaseFactory(project=project))

    assert readings() == only(target)


def test_a_finish_that_frees_a_slot_rings_the_doorbell_only_for_claimable_work(
    project, make_suite, settings
):
    from django_q.models import OrmQ

    settings.Q_BROKER = "orm"
    cases = TestCaseFactory.create_batch(3, project=project)
    execution_for(suite=make_suite(*cases, max_parallel=1))
    first = claim.execution_claim_next(worker="w")
    queue.queue_pause()  # the freed slot's sibling may not start while the queue is paused

    before = OrmQ.objects.count()
    finish(first, "w")
    assert OrmQ.objects.count() == before

    queue.queue_resume()
    second = claim.execution_claim_next(worker="w")
    before = OrmQ.objects.count()
    finish(second, "w")
    assert OrmQ.objects.count() == before + 1  # the third child may start now


def test_queue_status_counts_claimable_work_only_in_the_given_projects(project, other_project):
    execution_for(TestCaseFactory(project=project))
    execution_for(TestCaseFactory(project=other_project))
    execution_for(TestCaseFactory(project=other_project))

    assert queue_status([project.pk])["claimable"] == 1
    assert queue_status()["claimable"] == 3
