"""A real qcluster whose idle worker holding the task-queue lock is SIGKILLed keeps taking work.

django-q2's workers share one multiprocessing queue; the idle worker waiting for a task holds its
reader lock. With multiprocessing's own lock (a POSIX semaphore) a SIGKILL left it taken for good:
the other worker and every replacement waited on it, and queued work waited for ever while the
watchdogs kept reporting the workers alive. engine.cluster gives the cluster locks that the
kernel releases when their holder dies.
"""

import os
import signal

import pytest
from django.conf import settings

from executions.models import Execution, ExecutionStatus
from tests.factories import TestCaseFactory, execution_for
from tests.live import cluster_workers, live_env, qcluster, queue_lock_holder, wait_until

S = ExecutionStatus
pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]

BROKERS = ["orm"] + (["redis"] if settings.REDIS_URL else [])
LEASE_SECONDS = 8  # the default: "claimable work never waits longer than the lease time"
RUNS = 10


@pytest.mark.parametrize("broker", BROKERS)
def test_killing_the_idle_worker_holding_the_queue_lock_leaves_the_cluster_working(
    project, tmp_path, broker
):
    case = TestCaseFactory(project=project)
    log = tmp_path / "qcluster.log"
    env = live_env(Q_BROKER=broker, Q_WORKERS="2", IB_LEASE_SECONDS=str(LEASE_SECONDS))
    with qcluster(env, log) as cluster:
        workers = wait_until(
            lambda: cluster_workers(cluster.pid, 2), timeout=60, what="two workers to report"
        )
        holder = wait_until(
            lambda: queue_lock_holder(workers),
            timeout=30,
            what="one idle worker reading the task pipe, holding the queue's lock",
        )
        os.kill(holder, signal.SIGKILL)

        ids = [execution_for(case).pk for _ in range(RUNS)]
        try:
            wait_until(
                lambda: (
                    not Execution.objects.filter(
                        pk__in=ids, status__in=(S.QUEUED, S.RUNNING)
                    ).exists()
                ),
                timeout=LEASE_SECONDS,
                what=f"{RUNS} runs to finish within the lease time",
            )
        except AssertionError:
            print(log.read_text()[-4000:])
            raise

    outcomes = list(Execution.objects.filter(pk__in=ids).values_list("status", flat=True))
    assert outcomes == [S.PASSED] * RUNS
