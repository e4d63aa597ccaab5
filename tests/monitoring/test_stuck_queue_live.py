"""/health/ready over a real qcluster that stops taking work while its workers report alive.

The idle worker holding the task-queue lock is frozen (SIGSTOP): a frozen holder, unlike a dead
one, keeps even engine.cluster's locks, so the other worker waits on it, idle, its watchdog
still reporting. Readiness must say so (503, `queue` failing) once startable work has waited past
the lease time, and be ready again when the worker wakes up and the work is taken.
"""

import os
import signal

import pytest

from executions.models import Execution, ExecutionStatus
from tests.factories import TestCaseFactory, execution_for
from tests.live import (
    cluster_workers,
    freeze_lock_holder,
    live_env,
    qcluster,
    queue_lock_holder,
    wait_until,
)

S = ExecutionStatus
pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]

LEASE_SECONDS = 3


def test_ready_fails_while_a_frozen_lock_holder_jams_the_cluster_and_recovers_after(
    project, admin_client, settings, tmp_path
):
    settings.IB_LEASE_SECONDS = LEASE_SECONDS  # the web process and the workers agree on it
    case = TestCaseFactory(project=project)
    log = tmp_path / "qcluster.log"
    env = live_env(Q_WORKERS="2", IB_LEASE_SECONDS=str(LEASE_SECONDS))
    with qcluster(env, log) as cluster:
        workers = wait_until(
            lambda: cluster_workers(cluster.pid, 2), timeout=60, what="two workers to report"
        )
        wait_until(
            lambda: queue_lock_holder(workers), timeout=30, what="the worker holding the lock"
        )
        assert admin_client.get("/health/ready").status_code == 200

        holder = freeze_lock_holder(workers)
        try:
            ids = [execution_for(case).pk for _ in range(3)]
            response = wait_until(
                lambda: (r := admin_client.get("/health/ready")).status_code == 503 and r,
                timeout=LEASE_SECONDS + 30,
                interval=0.2,
                what="readiness to fail while the work waits",
            )
        finally:
            os.kill(holder, signal.SIGCONT)

        checks = response.json()["checks"]
        assert checks["queue"]["ok"] is False, checks
        assert "sat idle" in checks["queue"]["detail"]
        assert Execution.objects.filter(pk__in=ids, status=S.QUEUED).count() == 3

        wait_until(
            lambda: admin_client.get("/health/ready").status_code == 200,
            timeout=30,
            interval=0.2,
            what="readiness once the worker woke up",
        )
        wait_until(
            lambda: (
                not Execution.objects.filter(pk__in=ids, status__in=(S.QUEUED, S.RUNNING)).exists()
            ),
            timeout=30,
            what="the waiting runs to finish",
        )
    statuses = list(Execution.objects.filter(pk__in=ids).values_list("status", flat=True))
    assert statuses == [S.PASSED] * 3, log.read_text()[-3000:]
