"""A real qcluster: a worker process that stops cleanly leaves the dashboard's worker list at once; a
killed one cannot clean up, so its row stays and goes stale (gone after IB_WORKER_ALIVE_SECONDS)."""

import os
import signal

import pytest

from monitoring.models import WorkerHeartbeat
from monitoring.workers import workers_alive
from tests.live import live_env, qcluster, wait_until

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]


def reported_pids() -> set[int]:
    return set(WorkerHeartbeat.objects.values_list("pid", flat=True))


def test_a_clean_stop_removes_the_worker_and_a_killed_one_goes_stale(settings, tmp_path):
    env = live_env(Q_WORKERS="1")
    # Killed as a whole, like a crashed machine: no worker process gets to clean up.
    with qcluster(env, tmp_path / "killed.log") as cluster:
        killed = wait_until(reported_pids, timeout=30, what="the first worker to report").pop()
        os.killpg(cluster.pid, signal.SIGKILL)
        cluster.wait(timeout=10)

    log = tmp_path / "stopped.log"
    with qcluster(env, log) as cluster:
        wait_until(lambda: reported_pids() - {killed}, timeout=30, what="the next worker")
        # What `manage.py serve` does: SIGTERM to qcluster alone, which stops its workers in turn.
        # (SIGTERM to the whole group kills the workers outright: django-q2 leaves SIGTERM at its
        # default action in them.)
        cluster.send_signal(signal.SIGTERM)
        assert cluster.wait(timeout=15) == 0, log.read_text()[-3000:]

    assert reported_pids() == {killed}, log.read_text()[-3000:]
    settings.IB_WORKER_ALIVE_SECONDS = 1
    wait_until(
        lambda: not workers_alive().filter(pid=killed).exists(),
        timeout=5,
        what="the killed worker's row to go stale",
    )
