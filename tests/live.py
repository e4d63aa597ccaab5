"""Helpers for live tests: real worker and server processes pointed at the test database."""

import os
import signal
import socket
import sys
import time
from pathlib import Path

from django.conf import settings
from django.db import connection

from bench.common import process_group

ROOT = Path(__file__).resolve().parent.parent


def test_database_url() -> str:
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def live_env(**overrides: str) -> dict:
    """The environment of a child process: the test database, fast leases, no inherited queue
    settings that a developer's shell might have."""
    env = {
        **os.environ,
        "DATABASE_URL": test_database_url(),
        "DJANGO_SETTINGS_MODULE": "intellibrowse.settings",
        "PYTHONUNBUFFERED": "1",
        "IB_HEARTBEAT_SECONDS": "0.5",
        "IB_LEASE_SECONDS": "3",
        "IB_REAP_SECONDS": "0.5",
        "IB_CANCEL_POLL_SECONDS": "0.1",
        "IB_REQUEUE_LOST_AFTER_SECONDS": "1",
        "Q_SYNC": "false",
    }
    env.update(overrides)
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def qcluster(env: dict, log_path: Path):
    return process_group([sys.executable, str(ROOT / "manage.py"), "qcluster"], env, log_path)


def wait_until(predicate, *, timeout: float, interval: float = 0.05, what: str = "condition"):
    """Poll `predicate` until it returns something truthy; fail the test after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def live_database_available() -> bool:
    return settings.IS_POSTGRES or connection.settings_dict["ENGINE"].endswith("sqlite3")


def _stat(pid: int) -> tuple[str, int, int] | None:
    """(state, parent pid, start time) of `pid` from /proc, None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            text = f.read()
    except OSError:
        return None
    # The command name is in parentheses and may hold spaces: the fields start after the last ")".
    fields = text.rpartition(")")[2].split()
    return fields[0], int(fields[1]), int(fields[19])


def process_tree(pid: int) -> dict[int, int]:
    """Every descendant of `pid` now, as {pid: start time} (the start time tells a reused pid)."""
    parents: dict[int, list[int]] = {}
    starts: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (stat := _stat(int(entry))) is not None:
            parents.setdefault(stat[1], []).append(int(entry))
            starts[int(entry)] = stat[2]
    found, todo = {}, [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found[child] = starts[child]
            todo.append(child)
    return found


def still_running(processes: dict[int, int]) -> list[int]:
    """Those of `processes` ({pid: start time}) that still run (a zombie has ended)."""
    return [
        pid
        for pid, start in processes.items()
        if (stat := _stat(pid)) is not None and stat[2] == start and stat[0] != "Z"
    ]


def waiting_on(pid: int) -> str:
    """The kernel function the main thread of `pid` sleeps in ("" when running or gone)."""
    try:
        with open(f"/proc/{pid}/wchan") as f:
            return f.read().strip()
    except OSError:
        return ""


def cluster_workers(root_pid: int, count: int) -> set[int] | None:
    """The pids of the worker processes under `root_pid` once `count` of them have reported."""
    from monitoring.models import WorkerHeartbeat

    tree = process_tree(root_pid)
    pids = set(WorkerHeartbeat.objects.filter(pid__in=tree).values_list("pid", flat=True))
    return pids if len(pids) >= count else None


def queue_lock_holder(worker_pids) -> int | None:
    """The idle django-q2 worker that holds the cluster's task-queue lock.

    An idle worker waits in Queue.get(): the one holding the queue's reader lock sleeps reading the
    task pipe, the others sleep on the lock itself. None unless exactly one reads the pipe."""
    readers = [pid for pid in worker_pids if "pipe_read" in waiting_on(pid)]
    return readers[0] if len(readers) == 1 else None


def freeze_lock_holder(worker_pids, *, timeout: float = 30) -> int:
    """SIGSTOP the idle worker that holds the task-queue lock, and make sure it still held it
    when it stopped: a task arriving just before (a scheduled one, a doorbell) sends the holder
    to work and the lock to another worker, which then reads the pipe. Retried until the lock
    stays with the frozen one."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        holder = queue_lock_holder(worker_pids)
        if holder is None:
            time.sleep(0.05)
            continue
        os.kill(holder, signal.SIGSTOP)
        others = [pid for pid in worker_pids if pid != holder]
        settle = time.monotonic() + 1.0  # a lock let go just before the stop is taken at once
        while time.monotonic() < settle and not any("pipe_read" in waiting_on(p) for p in others):
            time.sleep(0.05)
        if not any("pipe_read" in waiting_on(p) for p in others):
            return holder
        os.kill(holder, signal.SIGCONT)
    raise AssertionError(f"no worker kept the queue lock while frozen within {timeout} s")
