"""Execution engine benchmark (issue 3), on PostgreSQL, for the ORM and the Redis broker.

Prints:
- start overhead: POST /api/v1/executions/ through uvicorn, request to committed response;
- enqueue-to-start latency: created (committed, doorbell rung) to claimed by an idle worker;
- throughput: 1,000 no-op executions through one qcluster with 2 workers;
- kill test: 1,000 executions while a worker process is SIGKILLed twice: lost, run twice (counted
  by a local HTTP server the step calls), time to recover each interrupted execution.

Usage: DATABASE_URL=postgres://postgres@127.0.0.1:5432/test REDIS_URL=redis://127.0.0.1:6379/0 \
       .venv/bin/python bench/engine.py [--quick]
"""

import argparse
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import (
    PRODUCTION_LIKE,
    Hits,
    child,
    machine_cpu_seconds,
    scratch_database,
    setup_django,
    summary_ms,
    wait_until,
)

FAST_LEASES = {
    **PRODUCTION_LIKE,
    "IB_HEARTBEAT_SECONDS": "1",
    "IB_LEASE_SECONDS": "5",
    "IB_REAP_SECONDS": "1",
    "IB_REQUEUE_LOST_AFTER_SECONDS": "2",
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="fewer samples (a smoke run)")
    parser.add_argument("--brokers", default="orm,redis", help="comma-separated: orm, redis")
    parser.add_argument(
        "--parts",
        default="start,enqueue,throughput,kill",
        help="comma-separated: start, enqueue, throughput, kill (all by default)",
    )
    parser.add_argument(
        "--database",
        help="the scratch database's name (re-created; default ib_bench_engine_<broker>): give"
        " your own when others benchmark on the same server",
    )
    parser.add_argument("--broker", help=argparse.SUPPRESS)  # one broker, in a fresh process
    args = parser.parse_args()
    if args.broker is None:
        # django-q2 reads its broker from settings once per process: one child process per broker.
        for broker in args.brokers.split(","):
            command = [sys.executable, __file__, "--broker", broker, "--parts", args.parts]
            command += ["--quick"] if args.quick else []
            command += ["--database", args.database] if args.database else []
            subprocess.run(command, check=True)
        return
    scale = 0.2 if args.quick else 1.0
    broker = args.broker
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0").rsplit("/", 1)[0] + "/15"
    database_url = scratch_database(args.database or f"ib_bench_engine_{broker}")
    flush_redis(redis_url)
    overrides = {"REDIS_URL": redis_url, "Q_BROKER": broker, "Q_WORKERS": "2", **FAST_LEASES}
    setup_django(database_url, **overrides)
    env = {**os.environ, "DATABASE_URL": database_url, **overrides}

    fixtures = make_fixtures()
    print(f"\n== broker: {broker} (PostgreSQL, {os.cpu_count()} cores)")
    parts = set(args.parts.split(","))
    if "start" in parts:
        start_overhead(fixtures, env, samples=int(300 * scale))
    if parts & {"enqueue", "throughput"}:
        with child(
            [sys.executable, "manage.py", "qcluster"], env, f"qcluster-{broker}.log"
        ) as cluster:
            time.sleep(2)  # the cluster forks its workers
            if "enqueue" in parts:
                enqueue_to_start(fixtures, samples=int(200 * scale))
            if "throughput" in parts:
                throughput(fixtures, cluster, count=int(1000 * scale))
    if "kill" in parts:
        with child(
            [sys.executable, "manage.py", "qcluster"], env, f"qcluster-kill-{broker}.log"
        ) as cluster:
            time.sleep(2)
            kill_test(fixtures, cluster, count=int(1000 * scale))


def flush_redis(url: str) -> None:
    """Drop what an earlier run left under this namespace (doorbells, cache): only ours, since
    other benchmarks may share the Redis database."""
    import redis

    client = redis.Redis.from_url(url)
    namespace = os.environ.get("IB_NAMESPACE", "intellibrowse")
    for key in client.scan_iter(match=f"*{namespace}*"):
        client.delete(key)


def make_fixtures() -> dict:
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    from catalog.models import Membership, Project, Role, TestCase

    user = get_user_model().objects.create_user("bench", password="bench-password-1")
    project = Project.objects.create(name="Bench", slug="bench", allowed_hosts=["127.0.0.1"])
    Membership.objects.create(project=project, user=user, role=Role.MAINTAINER)
    noop = TestCase.objects.create(
        project=project,
        key="noop",
        name="no-op",
        steps=[{"name": "no-op", "action": "set", "params": {"values": {"ok": True}}}],
    )
    return {
        "user": user,
        "token": Token.objects.create(user=user).key,
        "project": project,
        "noop": noop,
    }


def start_overhead(fixtures: dict, env: dict, samples: int) -> None:
    import httpx

    from executions.services.queue import queue_pause, queue_resume

    port = 8765
    queue_pause(reason="benchmark: measure the API alone")
    args = [
        sys.executable,
        "-m",
        "uvicorn",
        "intellibrowse.asgi:application",
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--lifespan",
        "off",
    ]
    with child(args, env, f"uvicorn-{env['Q_BROKER']}.log"):
        client = httpx.Client(
            base_url=f"http://127.0.0.1:{port}",
            headers={"Authorization": f"Token {fixtures['token']}"},
        )
        wait_until(lambda: _up(client), timeout=30)
        body = {"test_case": fixtures["noop"].pk, "priority": "normal"}
        for _ in range(30):
            client.post("/api/v1/executions/", json=body)
        timings = []
        for _ in range(samples):
            started = time.perf_counter()
            response = client.post("/api/v1/executions/", json=body)
            timings.append(time.perf_counter() - started)
            assert response.status_code == 201, response.text
    _cancel_all_queued()
    queue_resume()
    print(f"start overhead (POST /api/v1/executions/ -> 201, committed): {summary_ms(timings)}")


def _up(client) -> bool:
    try:
        return client.get("/api/v1/queue/").status_code == 200
    except Exception:
        return False


def _cancel_all_queued() -> None:
    from executions.models import Execution, ExecutionStatus
    from executions.services.people import execution_cancel

    for pk in Execution.objects.filter(status=ExecutionStatus.QUEUED).values_list("id", flat=True):
        execution_cancel(pk, reason="benchmark clean-up")


def enqueue_to_start(fixtures: dict, samples: int) -> None:
    from executions.models import Execution
    from executions.services.create import execution_create

    latencies = []
    for _ in range(samples):
        execution = execution_create(project=fixtures["project"], test_case=fixtures["noop"])
        done = wait_until(
            lambda pk=execution.pk: (
                Execution.objects.filter(pk=pk, started_at__isnull=False)
                .values_list("queued_at", "started_at")
                .first()
            ),
            timeout=30,
        )
        if done:
            latencies.append((done[1] - done[0]).total_seconds())
        wait_until(lambda pk=execution.pk: Execution.objects.get(pk=pk).is_terminal, timeout=30)
    print(f"enqueue-to-start (idle workers): {summary_ms(latencies)}")


def throughput(fixtures: dict, cluster, count: int) -> None:
    from django.db.models import Max, Min

    from executions.models import TERMINAL, ExecutionStatus
    from executions.services.create import execution_create
    from executions.services.queue import queue_pause, queue_resume

    queue_pause(reason="benchmark: fill the queue first")
    ids = [
        execution_create(project=fixtures["project"], test_case=fixtures["noop"]).pk
        for _ in range(count)
    ]
    began, cpu_before = time.monotonic(), machine_cpu_seconds()
    cluster_before = group_cpu_seconds(cluster.pid)
    queue_resume()
    wait_until(
        lambda: _batch(ids).filter(status__in=TERMINAL).count() == count,
        timeout=600,
        interval=0.5,
    )
    wall = time.monotonic() - began
    cpu_after = machine_cpu_seconds()
    cluster_used = group_cpu_seconds(cluster.pid) - cluster_before
    rows = _batch(ids)
    span = rows.aggregate(first=Min("started_at"), last=Max("finished_at"))
    passed = rows.filter(status=ExecutionStatus.PASSED).count()
    run_seconds = (span["last"] - span["first"]).total_seconds()
    print(
        f"throughput, 2 workers: {count} executions ({passed} passed) in {run_seconds:.2f} s of "
        f"running = {count / run_seconds:.0f} executions/s (wall from resume {wall:.2f} s)"
    )
    if cpu_before is not None:
        used = cpu_after - cpu_before
        print(
            f"  machine CPU: {used * 1000 / count:.1f} ms per execution (workers, PostgreSQL, "
            f"broker, this process), {used / wall * 100:.0f} % of one core on average"
        )
    print(
        f"  qcluster CPU: {cluster_used * 1000 / count:.2f} ms per execution (its processes only:"
        " what a change to the worker's path costs, whatever else the host runs)"
    )


def group_cpu_seconds(group: int) -> float:
    """CPU time spent by the processes of process group `group`, and by their children that have
    ended, from /proc/<pid>/stat (utime, stime, cutime, cstime)."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue  # ended while we looked
        fields = text.rsplit(")", 1)[1].split()  # the name, in brackets, may hold spaces
        if int(fields[2]) == group:  # field 5 of proc(5), pgrp
            total += sum(int(v) for v in fields[11:15])
    return total / os.sysconf("SC_CLK_TCK")


def _batch(ids: list[int]):
    """The executions this benchmark created, by id range (they are consecutive): polling with an
    IN list of thousands of ids cost the benchmark process a tenth of a core, taken from the
    workers it measures."""
    from executions.models import Execution

    return Execution.objects.filter(pk__gte=min(ids), pk__lte=max(ids))


def kill_test(fixtures: dict, cluster, count: int) -> None:
    from catalog.models import TestCase
    from executions.models import TERMINAL, Attempt, ExecutionStatus
    from executions.services.create import execution_create
    from executions.services.queue import queue_pause, queue_resume

    hits = Hits()
    case = TestCase.objects.create(
        project=fixtures["project"],
        key=f"side-effect-{time.time_ns()}",
        name="counted side effect",
        steps=[
            {
                "name": "hit",
                "action": "http",
                "params": {
                    "url": f"http://127.0.0.1:{hits.port}/hit/{{{{ execution_id }}}}/{{{{ attempt_number }}}}"
                },
            },
            {"name": "linger", "action": "wait", "params": {"seconds": 0.05}},
        ],
    )
    queue_pause(reason="benchmark: fill the queue first")
    ids = [execution_create(project=fixtures["project"], test_case=case).pk for _ in range(count)]
    queue_resume()
    kills = []
    for fraction in (0.25, 0.6):
        wait_until(
            lambda f=fraction: _batch(ids).filter(status__in=TERMINAL).count() >= f * count,
            timeout=600,
            interval=0.1,
        )
        running = (
            _batch(ids)
            .filter(status=ExecutionStatus.RUNNING)
            .exclude(worker="")
            .values_list("id", "worker")
            .first()
        )
        if running is None:
            continue
        pid = int(running[1].rsplit(":", 1)[1])
        os.kill(pid, signal.SIGKILL)
        kills.append((time.time(), pid, running[0]))
    finished = wait_until(
        lambda: _batch(ids).filter(status__in=TERMINAL).count() == count,
        timeout=900,
        interval=0.5,
    )
    rows = _batch(ids)
    statuses = Counter(rows.values_list("status", flat=True))
    twice = {key: n for key, n in hits.counts.items() if n > 1}
    passes = Counter(
        Attempt.objects.filter(execution_id__in=ids, outcome=ExecutionStatus.PASSED).values_list(
            "execution_id", flat=True
        )
    )
    passed_twice = [pk for pk, n in passes.items() if n > 1]
    recovered = Attempt.objects.filter(execution_id__in=ids, reason="worker_lost").select_related(
        "execution"
    )
    recoveries = []
    for attempt in recovered:
        kill_time = max(
            (k[0] for k in kills if k[0] <= attempt.created_at.timestamp() + 1), default=None
        )
        if kill_time and attempt.started_at:
            recoveries.append(attempt.started_at.timestamp() - kill_time)
    lost = count - sum(statuses[s] for s in TERMINAL)
    print(f"kill test: {count} executions, {len(kills)} worker SIGKILLs, finished={bool(finished)}")
    print(
        f"  outcomes: {dict(statuses)}; lost={lost}; steps run twice in one attempt={len(twice)}; "
        f"executions passed twice={len(passed_twice)}"
    )
    if recoveries:
        print(
            f"  recovered {len(recoveries)} interrupted executions; kill-to-restart "
            f"max={max(recoveries):.1f} s, each: {', '.join(f'{r:.1f}' for r in recoveries)} s"
        )
    print(f"  cluster still alive: {cluster.poll() is None}")
    hits.server.shutdown()


if __name__ == "__main__":
    main()
