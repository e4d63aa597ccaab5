"""Processes die with their parent: a SIGKILLed `qcluster` takes its sentinel, workers, monitor and
pusher with it, and a SIGKILLed `manage.py serve` takes the web server and the whole cluster.

Before, they ran on as orphans still taking tasks, so restarting the cluster doubled its workers.
"""

import os
import signal
import sys

import httpx
import pytest

from bench.common import process_group
from tests.live import (
    ROOT,
    cluster_workers,
    free_port,
    live_env,
    process_tree,
    qcluster,
    still_running,
    wait_until,
)

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]

GONE_WITHIN_SECONDS = 5


def assert_all_end(processes: dict[int, int], what: str) -> None:
    try:
        wait_until(lambda: not still_running(processes), timeout=GONE_WITHIN_SECONDS, what=what)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; still running: {still_running(processes)}") from None


def test_a_killed_qcluster_takes_every_process_of_its_cluster_with_it(tmp_path):
    log = tmp_path / "qcluster.log"
    with qcluster(live_env(Q_WORKERS="2"), log) as cluster:
        wait_until(lambda: cluster_workers(cluster.pid, 2), timeout=60, what="two workers")
        children = process_tree(cluster.pid)
        assert len(children) >= 5, children  # sentinel, two workers, monitor, pusher

        os.kill(cluster.pid, signal.SIGKILL)
        cluster.wait(timeout=10)

        assert_all_end(children, "the cluster's processes to end")


def test_a_killed_serve_takes_the_web_server_and_the_cluster_with_it(tmp_path):
    port = free_port()
    args = [sys.executable, str(ROOT / "manage.py"), "serve", "--host", "127.0.0.1"]
    log = tmp_path / "serve.log"
    with process_group([*args, "--port", str(port)], live_env(Q_WORKERS="2"), log) as serve:

        def web_up() -> bool:
            try:
                return httpx.get(f"http://127.0.0.1:{port}/health/live", timeout=1).is_success
            except httpx.HTTPError:
                return False

        wait_until(web_up, timeout=60, interval=0.2, what="the web server")
        wait_until(lambda: cluster_workers(serve.pid, 2), timeout=60, what="two workers")
        children = process_tree(serve.pid)
        assert len(children) >= 7, children  # uvicorn, qcluster and its five processes

        os.kill(serve.pid, signal.SIGKILL)
        serve.wait(timeout=10)

        assert_all_end(children, "serve's processes to end")
