"""The reduced chaos run (the full one is `make chaos`): workers SIGKILLed, and in CI PostgreSQL and
Redis restarted, while executions with counted side effects run. Nothing is lost, nothing runs twice."""

import os

import pytest
from django.conf import settings
from django.db import connection

from bench.chaos import run_chaos
from tests.live import live_env

pytestmark = [
    pytest.mark.live,
    pytest.mark.exclusive,  # its restarts would cut every other test's connections
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not (settings.IS_POSTGRES and settings.REDIS_URL),
        reason="chaos runs on the production stack: set DATABASE_URL (PostgreSQL) and REDIS_URL",
    ),
]
# Restarting the machine's PostgreSQL and Redis is for CI (and for those who ask for it).
RESTARTS = os.environ.get("CI") == "true" or os.environ.get("IB_CHAOS_RESTARTS") == "1"


def test_chaos_loses_nothing_and_runs_nothing_twice(project, tmp_path, capsys):
    env = live_env(Q_BROKER="redis", Q_WORKERS="1", IB_LEASE_SECONDS="4", LOG_LEVEL="WARNING")

    report = run_chaos(
        project=project,
        env=env,
        count=100,
        kill_every=1.5,
        restart_pg_at=0.3 if RESTARTS else None,
        restart_redis_at=0.6 if RESTARTS else None,
        timeout=300,
        log_dir=tmp_path,
    )
    connection.close()  # ours may have died with a PostgreSQL restart

    with capsys.disabled():
        print("\nchaos (reduced):\n  " + "\n  ".join(report.lines()))
    assert report.lost == 0, report.lines()
    assert report.steps_twice_in_one_attempt == 0, report.lines()
    assert report.executions_passed_twice == 0, report.lines()
    assert report.outcomes == {"passed": 100}, report.lines()
    assert report.kills, "no worker was killed: the scenario did not happen"
