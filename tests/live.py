"""Helpers for live tests: real worker and server processes pointed at the test database."""

import os
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
