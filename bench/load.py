"""HTTP load on the read API (issue 7): wrk against uvicorn with 2 workers on PostgreSQL.

32 concurrent connections for 20 s each on: the executions list (one page of 50, newest first),
execution detail (random ids) and, as the floor, /health/live (no database, no authentication).
Prints requests/s and latency p50/p95/p99 (from wrk's histogram). Targets (issue 7): list and
detail p95 <= 50 ms, list >= 500 requests/s.

Usage: DATABASE_URL=postgres://postgres@127.0.0.1:5432/test .venv/bin/python bench/load.py
Needs wrk (Debian: apt-get install wrk).
"""

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import PRODUCTION_LIKE, child, scratch_database, setup_django, wait_until

PORT = 8766
REPORT = """
done = function(summary, latency, requests)
  io.write(string.format("RESULT requests=%d errors=%d seconds=%.2f p50=%.2f p95=%.2f p99=%.2f\\n",
    summary.requests, summary.errors.status + summary.errors.connect + summary.errors.read
      + summary.errors.write + summary.errors.timeout,
    summary.duration / 1e6, latency:percentile(50) / 1000, latency:percentile(95) / 1000,
    latency:percentile(99) / 1000))
end
"""
DETAIL = """
ids = {%s}
request = function()
  return wrk.format("GET", "/api/v1/executions/" .. ids[math.random(#ids)] .. "/")
end
"""


def make_data(executions: int) -> tuple[str, list[int]]:
    from datetime import timedelta

    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.utils import timezone
    from rest_framework.authtoken.models import Token

    from catalog.models import Membership, Project, Role, TestCase
    from executions.models import Execution, ExecutionStatus

    user = get_user_model().objects.create_user("load", password="load-password-1")
    project = Project.objects.create(name="Load", slug="load")
    Membership.objects.create(project=project, user=user, role=Role.VIEWER)
    cases = [
        TestCase.objects.create(project=project, key=f"case-{i}", name=f"Case {i}")
        for i in range(20)
    ]
    now = timezone.now()
    statuses = [ExecutionStatus.PASSED] * 8 + [ExecutionStatus.FAILED, ExecutionStatus.ERROR]
    rows = []
    for i in range(executions):
        started = now - timedelta(minutes=executions - i)
        rows.append(
            Execution(
                project=project,
                test_case=cases[i % 20],
                status=statuses[i % 10],
                timeout_seconds=600,
                queued_at=started,
                started_at=started,
                finished_at=started + timedelta(seconds=3),
                attempt_count=1,
                event_seq=5,
                revision=f"rev{i // 50}",
                environment="staging",
                labels={"team": "web"},
                summary={"steps_total": 5, "steps_done": 5, "counts": {"passed": 5}},
            )
        )
    Execution.objects.bulk_create(rows, batch_size=2000)
    # Planner statistics as autovacuum would have them a minute after a bulk load.
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    ids = list(Execution.objects.values_list("id", flat=True)[:2000])
    return Token.objects.create(user=user).key, ids


def wrk(url: str, token: str, script: str, seconds: int, connections: int) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(script + REPORT)
    import subprocess

    out = subprocess.run(
        [
            "wrk",
            "-t2",
            f"-c{connections}",
            f"-d{seconds}s",
            "-s",
            f.name,
            "-H",
            f"Authorization: Token {token}",
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    line = next(line for line in out.splitlines() if line.startswith("RESULT"))
    values = dict(part.split("=") for part in line.split()[1:])
    return {k: float(v) for k, v in values.items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--executions", type=int, default=10_000)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed (apt-get install wrk)")
    database_url = scratch_database("ib_bench_load")
    settings_env = {**PRODUCTION_LIKE, "IB_ALERT_EVALUATE_SECONDS": "0"}
    setup_django(database_url, **settings_env)
    token, ids = make_data(args.executions)
    env = {**os.environ, "DATABASE_URL": database_url, **settings_env}
    server = [
        sys.executable,
        "-m",
        "uvicorn",
        "intellibrowse.asgi:application",
        "--port",
        str(PORT),
        "--workers",
        "2",
        "--log-level",
        "warning",
        "--no-access-log",
        "--lifespan",
        "off",
    ]
    base = f"http://127.0.0.1:{PORT}"
    with child(server, env, "uvicorn-load.log"):
        import httpx

        def up() -> bool:
            try:
                return (
                    httpx.get(
                        f"{base}/api/v1/executions/?page_size=1",
                        headers={"Authorization": f"Token {token}"},
                    ).status_code
                    == 200
                )
            except httpx.HTTPError:
                return False

        wait_until(up, timeout=30)
        time.sleep(1)
        print(
            f"load on uvicorn --workers 2, PostgreSQL, {args.executions} executions, "
            f"{args.connections} connections, {args.seconds} s each, {os.cpu_count()} cores (wrk on the same machine)"
        )
        for name, url, script in [
            ("executions list (page of 50)", f"{base}/api/v1/executions/", ""),
            ("execution detail", base, DETAIL % ", ".join(map(str, ids))),
            # The floor: no database, no authentication. What the server, the framework and wrk
            # cost on this machine before the API does any work of its own.
            ("floor: /health/live", f"{base}/health/live", ""),
        ]:
            wrk(url, token, script, 3, args.connections)  # warm-up
            r = wrk(url, token, script, args.seconds, args.connections)
            print(
                f"{name}: {r['requests'] / r['seconds']:.0f} requests/s, errors {r['errors']:.0f}, "
                f"p50 {r['p50']:.1f} ms, p95 {r['p95']:.1f} ms, p99 {r['p99']:.1f} ms"
            )


if __name__ == "__main__":
    main()
