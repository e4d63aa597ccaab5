"""Chaos: executions keep their promises while workers die and services restart.

Two qcluster processes (Redis broker) work through N executions whose steps call a local HTTP server
(the side-effect counter). Meanwhile a worker process running an execution is SIGKILLed every few
seconds, PostgreSQL is restarted once and Redis once. The report says:
- every execution reached a final state (lost = 0),
- no step ran twice within one attempt, no execution passed twice (executed twice = 0),
- how long each interrupted execution took to start again after its worker was killed,
- throughput per 10 s window, to see it return to normal.

Full run (make chaos): DATABASE_URL=postgres://... REDIS_URL=redis://... .venv/bin/python bench/chaos.py
On servers of its own instead of the machine's: add --private (bench/services.py). The test suite
runs a reduced one that way (tests/test_chaos.py).
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import Hits, child

PG_VERSION_DIR = Path("/etc/postgresql")


@dataclass
class ChaosReport:
    count: int
    outcomes: dict = field(default_factory=dict)
    lost: int = 0
    steps_twice_in_one_attempt: int = 0
    executions_passed_twice: int = 0
    reexecuted_after_recovery: int = 0
    kills: list = field(default_factory=list)
    recoveries: list = field(default_factory=list)
    restarts: list = field(default_factory=list)
    timeline: list = field(default_factory=list)
    seconds: float = 0.0

    def lines(self) -> list[str]:
        rec = ", ".join(f"{r:.1f}" for r in self.recoveries) or "-"
        per_window = " ".join(str(n) for n in self.timeline)
        return [
            f"executions: {self.count} in {self.seconds:.0f} s; outcomes {self.outcomes}",
            f"lost: {self.lost}; steps run twice within one attempt: {self.steps_twice_in_one_attempt}; "
            f"executions passed twice: {self.executions_passed_twice}",
            f"attempts re-run after an interruption (a new attempt, by design): {self.reexecuted_after_recovery}",
            f"worker SIGKILLs: {len(self.kills)}; kill-to-restart of the interrupted execution (s): {rec}",
            f"service restarts: {', '.join(self.restarts) or 'none'}",
            f"finished per 10 s window: {per_window}",
        ]


def restart_postgres() -> None:
    version = sorted(os.listdir(PG_VERSION_DIR))[-1]
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart"], check=True
    )


def restart_redis() -> None:
    subprocess.run(
        ["redis-cli", "-h", "127.0.0.1", "-p", "6379", "shutdown", "nosave"], check=False
    )
    time.sleep(0.5)
    subprocess.run(
        [
            "redis-server",
            "--daemonize",
            "yes",
            "--bind",
            "127.0.0.1",
            "--port",
            "6379",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        check=True,
    )


def _db_retry(func, attempts: int = 50):
    """Our own queries while the database restarts: close the broken connection and try again."""
    from django.db import InterfaceError, OperationalError, connection

    for _ in range(attempts):
        try:
            return func()
        except (OperationalError, InterfaceError):
            connection.close()
            time.sleep(0.2)
    return func()


def run_chaos(
    *,
    project,
    env: dict,
    count: int,
    kill_every: float,
    restart_pg_at: float | None,
    restart_redis_at: float | None,
    timeout: float,
    log_dir: Path,
    clusters: int = 2,
    services=None,
) -> ChaosReport:
    """Run the scenario against the database Django is set up with. `restart_*_at` are fractions
    of the executions finished (None: no restart). `services` restarts PostgreSQL and Redis (a
    bench.services.PrivateServices); without it, the machine's own servers are restarted."""
    from catalog.models import TestCase
    from executions.models import TERMINAL, Attempt, Execution, ExecutionStatus
    from executions.services.create import execution_create
    from executions.services.queue import queue_pause, queue_resume

    hits = Hits()
    hit = f"http://127.0.0.1:{hits.port}/hit/{{{{ execution_id }}}}/{{{{ attempt_number }}}}"
    case = TestCase.objects.create(
        project=project,
        key=f"chaos-{time.time_ns()}",
        name="two counted side effects",
        steps=[
            {"name": "effect 1", "action": "http", "params": {"url": f"{hit}/1"}},
            {"name": "linger", "action": "wait", "params": {"seconds": 0.05}},
            {"name": "effect 2", "action": "http", "params": {"url": f"{hit}/2"}},
        ],
    )
    report = ChaosReport(count=count)
    queue_pause(reason="chaos: fill the queue first")
    ids = [execution_create(project=project, test_case=case).pk for _ in range(count)]
    began = time.monotonic()
    queue_resume()

    def finished() -> int:
        return _db_retry(lambda: Execution.objects.filter(pk__in=ids, status__in=TERMINAL).count())

    with ExitStack() as stack:
        for i in range(clusters):
            stack.enter_context(
                child(
                    [sys.executable, "manage.py", "qcluster"],
                    env,
                    str(log_dir / f"chaos-qcluster-{i}.log"),
                )
            )
        next_kill = time.monotonic() + kill_every
        window_end, window_start_count = time.monotonic() + 10, 0
        while time.monotonic() - began < timeout:
            done = finished()
            if done >= count:
                break
            now = time.monotonic()
            if now >= window_end:
                report.timeline.append(done - window_start_count)
                window_start_count, window_end = done, now + 10
            if now >= next_kill:
                # Kills come first: a restart must not push them out of a short run.
                running = _db_retry(
                    lambda: list(
                        Execution.objects.filter(pk__in=ids, status=ExecutionStatus.RUNNING)
                        .exclude(worker="")
                        .values_list("id", "worker")[:1]
                    )
                )
                if running:
                    pid = int(running[0][1].rsplit(":", 1)[1])
                    try:
                        os.kill(pid, signal.SIGKILL)
                        report.kills.append((time.time(), pid, running[0][0]))
                    except ProcessLookupError:
                        pass
                    next_kill = now + kill_every
            if restart_pg_at is not None and done >= restart_pg_at * count:
                (services.restart_postgres if services else restart_postgres)()
                report.restarts.append(f"PostgreSQL at {done}/{count}")
                restart_pg_at = None
            elif restart_redis_at is not None and done >= restart_redis_at * count:
                (services.restart_redis if services else restart_redis)()
                report.restarts.append(f"Redis at {done}/{count}")
                restart_redis_at = None
            time.sleep(0.2)
        report.timeline.append(finished() - window_start_count)
    report.seconds = time.monotonic() - began

    rows = Execution.objects.filter(pk__in=ids)
    report.outcomes = dict(Counter(rows.values_list("status", flat=True)))
    report.lost = count - sum(n for s, n in report.outcomes.items() if s in TERMINAL)
    report.steps_twice_in_one_attempt = sum(1 for n in hits.counts.values() if n > 1)
    attempts = Attempt.objects.filter(execution_id__in=ids)
    passes = Counter(
        attempts.filter(outcome=ExecutionStatus.PASSED).values_list("execution_id", flat=True)
    )
    report.executions_passed_twice = sum(1 for n in passes.values() if n > 1)
    report.reexecuted_after_recovery = attempts.filter(reason="worker_lost").count()
    for kill_time, _, execution_id in report.kills:
        restarted = (
            attempts.filter(
                execution_id=execution_id, reason="worker_lost", started_at__isnull=False
            )
            .order_by("number")
            .values_list("started_at", flat=True)
            .first()
        )
        if restarted:
            report.recoveries.append(restarted.timestamp() - kill_time)
    hits.server.shutdown()
    return report


def main() -> None:
    from bench.common import scratch_database, setup_django
    from bench.services import private_services

    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--kill-every", type=float, default=5.0)
    parser.add_argument("--timeout", type=float, default=1200)
    parser.add_argument(
        "--private",
        action="store_true",
        help="on a PostgreSQL cluster and a Redis server of the run's own (bench/services.py) "
        "instead of restarting the machine's",
    )
    parser.add_argument("--json", type=Path, help="also write the report here, as JSON")
    parser.add_argument("--log-dir", type=Path, default=Path(__file__).resolve().parent / "out")
    args = parser.parse_args()
    args.log_dir.mkdir(parents=True, exist_ok=True)

    with ExitStack() as stack:
        if args.private:
            services = stack.enter_context(private_services())
            database_url, redis_url = services.database_url, services.redis_url
        else:
            services = None
            redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
            redis_url = redis_url.rsplit("/", 1)[0] + "/14"
            database_url = scratch_database("ib_chaos")
        overrides = {
            "REDIS_URL": redis_url,
            "Q_BROKER": "redis",
            "Q_WORKERS": "1",
            "LOG_LEVEL": "WARNING",
        }
        setup_django(database_url, **overrides)
        from catalog.models import Project

        project = Project.objects.create(name="Chaos", slug="chaos", allowed_hosts=["127.0.0.1"])
        report = run_chaos(
            project=project,
            env={**os.environ, "DATABASE_URL": database_url, **overrides},
            count=args.count,
            kill_every=args.kill_every,
            restart_pg_at=0.3,
            restart_redis_at=0.6,
            timeout=args.timeout,
            log_dir=args.log_dir,
            services=services,
        )
        from django.db import connection

        connection.close()  # before the private cluster stops under it
    print("\n".join(report.lines()))
    if args.json:
        args.json.write_text(json.dumps(asdict(report)))
    ok = (
        report.lost == 0
        and report.steps_twice_in_one_attempt == 0
        and report.executions_passed_twice == 0
    )
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
