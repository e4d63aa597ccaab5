"""The doorbell: with the ORM broker it commits with the work it announces; with Redis it is rung
once that work is committed, and a Redis outage never fails the caller."""

import pytest
from django.db import transaction
from django_q.models import OrmQ

from executions.models import Execution, ExecutionStatus
from executions.services import queue
from tests.factories import TestCaseFactory, execution_for

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def case(project):
    return TestCaseFactory(project=project)


def test_with_the_orm_broker_the_doorbell_is_part_of_the_transaction(case, settings):
    settings.Q_BROKER = "orm"
    before = OrmQ.objects.count()

    with transaction.atomic():
        execution_for(case)
        assert OrmQ.objects.count() == before + 1  # written with the execution, not after

    assert OrmQ.objects.count() == before + 1


def test_a_rolled_back_start_leaves_no_doorbell_behind(case, settings):
    settings.Q_BROKER = "orm"
    before = OrmQ.objects.count()

    with pytest.raises(RuntimeError), transaction.atomic():
        execution_for(case)
        raise RuntimeError("the caller changed its mind")

    assert OrmQ.objects.count() == before
    assert not Execution.objects.exists()


def test_with_redis_the_doorbell_rings_after_the_commit(case, settings, monkeypatch):
    settings.Q_BROKER = "redis"
    rung = []
    monkeypatch.setattr(queue, "_enqueue", lambda count: rung.append(Execution.objects.count()))

    with transaction.atomic():
        execution_for(case)
        assert rung == []

    assert rung == [1]  # the execution was already there when the bell rang


def test_a_redis_broker_that_is_down_never_fails_the_start(case, settings, monkeypatch):
    settings.Q_BROKER = "redis"

    def down(count):
        raise ConnectionError("broker down")

    monkeypatch.setattr(queue, "_enqueue", down)

    execution = execution_for(case)

    assert Execution.objects.get(pk=execution.pk).status == ExecutionStatus.QUEUED
