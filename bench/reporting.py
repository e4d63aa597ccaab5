"""Results/s of a reported run (issue 16), side by side in one run with the JUnit upload of the same
results, both through a real uvicorn on PostgreSQL as production runs it (DEBUG off).

Streaming is what the pytest plugin does: open a run, send the results in batches of `--batch`
from one client, one batch after the other, close it; each batch is stored as trace steps, step
events and CaseResults with their cases' history before it is answered. The JUnit upload sends
the same tests (same classname and name, so the same catalog cases) as one report. Rounds
alternate the two ways (stream, upload, stream, upload ...), so a machine that gets busier
part-way slows both; the first round of each way also creates the catalog cases, the later ones
find them (both are printed). After each run the CaseResults it wrote are counted: a figure
only counts when every result was recorded.

Usage: DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/reporting.py \\
           [--results 20000] [--batch 500,1000] [--rounds 2] [--port 8761] [--redis URL]
Without --redis the server runs without Redis (the web process relays events from the log);
with it, every step event is also published to Redis after its batch commits.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import (
    PRODUCTION_LIKE,
    child,
    percentile,
    scratch_database,
    setup_django,
    wait_until,
)
from bench.load import backends, cpu_seconds, cpu_spent, process_tree

TRACEBACK = "".join(f'  File "tests/test_shop.py", line {100 + i}, in call{i}\n' for i in range(12))


def results(count: int) -> list[dict]:
    """`count` results as the plugin sends them: 92 % passed, 4 % failed with a traceback and
    output, 1 % error, 2.5 % skipped, 0.5 % xfailed; durations of a few ms (deterministic)."""
    rows = []
    for i in range(count):
        row = {
            "classname": f"tests.shop.module{i // 100 % 37}.test_feature{i // 100}",
            "name": f"test_{i % 100}",
            "outcome": "passed",
            "duration_ms": 3 + i % 47,
        }
        kind = i % 200
        if kind < 8:
            row.update(
                outcome="failed",
                message="AssertionError: expected 200, got 503",
                traceback=TRACEBACK + "AssertionError: expected 200, got 503",
                stdout="GET /api/orders -> 503 Service Unavailable\nretry budget exhausted",
            )
        elif kind < 10:
            row.update(outcome="error", message="ConnectionRefusedError", traceback=TRACEBACK)
        elif kind < 15:
            row.update(outcome="skipped", message="Disabled until SHOP-88", duration_ms=0)
        elif kind == 15:
            row.update(outcome="xfailed", message="known bug SHOP-12")
        rows.append(row)
    return rows


def junit_xml(rows: list[dict], name: str) -> bytes:
    """The same results as one JUnit report (xfail as pytest's junitxml writes it: skipped)."""
    from xml.sax.saxutils import escape, quoteattr

    out = [f'<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name={quoteattr(name)}>\n']
    out.append(f'<testsuite name="bench" tests="{len(rows)}">\n')
    for row in rows:
        head = (
            f"<testcase classname={quoteattr(row['classname'])} name={quoteattr(row['name'])} "
            f'time="{row["duration_ms"] / 1000:.3f}"'
        )
        outcome, message = row["outcome"], quoteattr(row.get("message", ""))
        if outcome == "passed":
            out.append(head + "/>\n")
        elif outcome in ("failed", "error"):
            tag = "failure" if outcome == "failed" else "error"
            body = escape(row.get("traceback", ""))
            system_out = escape(row.get("stdout", ""))
            out.append(
                f"{head}><{tag} message={message}>{body}</{tag}>"
                f"<system-out>{system_out}</system-out></testcase>\n"
            )
        else:
            out.append(f"{head}><skipped message={message}/></testcase>\n")
    out.append("</testsuite>\n</testsuites>\n")
    return "".join(out).encode()


def stream(api, project_id: int, rows: list[dict], batch: int, label: str) -> dict:
    opened = api.post(
        "/api/v1/reported-runs/",
        json={"project": project_id, "name": "bench", "revision": label, "lease_seconds": 300},
    )
    assert opened.status_code == 201, opened.text
    run_id = opened.json()["id"]
    latencies = []
    started = time.perf_counter()
    for n, start in enumerate(range(0, len(rows), batch)):
        sent = time.perf_counter()
        response = api.post(
            f"/api/v1/reported-runs/{run_id}/batches/",
            json={"batch_id": f"{label}-{n}", "results": rows[start : start + batch]},
        )
        latencies.append(time.perf_counter() - sent)
        assert response.status_code == 201, response.text[:500]
    closed = api.post(f"/api/v1/reported-runs/{run_id}/close/", json={})
    assert closed.status_code == 200, closed.text
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "latencies": latencies, "where": {"execution_id": run_id}}


def upload(api, project_id: int, rows: list[dict], label: str) -> dict:
    body = junit_xml(rows, label)
    started = time.perf_counter()
    response = api.post(
        f"/api/v1/imports/junit/?project={project_id}&revision={label}",
        content=body,
        headers={"Content-Type": "application/xml"},
    )
    seconds = time.perf_counter() - started
    assert response.status_code == 201, response.text[:500]
    return {
        "seconds": seconds,
        "latencies": [seconds],
        "where": {"batch_id": response.json()["id"]},
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--results", type=int, default=20_000)
    parser.add_argument("--batch", default="500,1000")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--port", type=int, default=8761)
    parser.add_argument("--redis", default="")
    args = parser.parse_args()
    batches = [int(b) for b in args.batch.split(",")]

    name = f"{os.environ.get('IB_NAMESPACE', 'ib').replace('-', '_')}_bench_reporting"
    database_url = scratch_database(name)
    setup_django(database_url, REDIS_URL=args.redis)
    import httpx
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    from catalog.models import Membership, Project, Role
    from results.models import CaseResult

    user = get_user_model().objects.create_user("bench-ci")
    project = Project.objects.create(name="Reporting bench", slug="reporting-bench")
    Membership.objects.create(project=project, user=user, role=Role.TESTER)
    token = Token.objects.create(user=user).key
    rows = results(args.results)

    env = {
        **os.environ,
        **PRODUCTION_LIKE,
        "DATABASE_URL": database_url,
        "REDIS_URL": args.redis,
        "IB_ALERT_EVALUATE_SECONDS": "0",
        "IB_RATE_IMPORTS": "1000/min",
    }
    server = [sys.executable, "-m", "uvicorn", "intellibrowse.asgi:application"]
    server += ["--port", str(args.port), "--log-level", "warning", "--no-access-log"]
    base = f"http://127.0.0.1:{args.port}"
    print(
        f"{args.results:,} results per run, batches of {args.batch}, {args.rounds} rounds; "
        f"uvicorn (1 process), PostgreSQL, DEBUG off, Redis {'on' if args.redis else 'off'}; "
        f"load average {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    figures = []
    with child(server, env, "uvicorn-reporting.log") as web:
        api = httpx.Client(base_url=base, headers={"Authorization": f"Token {token}"}, timeout=300)

        def up() -> bool:
            try:
                return api.get("/health/live").status_code == 200
            except httpx.HTTPError:
                return False

        if not wait_until(up, timeout=60):
            sys.exit("uvicorn did not start: see bench/out/uvicorn-reporting.log")
        for round_ in range(args.rounds):
            ways = [(f"stream, batches of {b}", b) for b in batches] + [("JUnit upload", 0)]
            for way, batch in ways:
                label = f"r{round_}-{batch or 'junit'}"
                # The server's CPU: the web process and the database's backends for it, from
                # /proc (another engineer's load on the machine does not count).
                web_pids = process_tree(web.pid)
                pids = web_pids | backends(database_url, name)
                before = cpu_seconds(pids)
                if batch:
                    got = stream(api, project.pk, rows, batch, label)
                else:
                    got = upload(api, project.pk, rows, label)
                pids |= backends(database_url, name)
                after = cpu_seconds(pids)
                got["cpu"] = cpu_spent(before, after)
                got["web_cpu"] = cpu_spent(
                    before, {pid: t for pid, t in after.items() if pid in web_pids}
                )
                recorded = CaseResult.objects.filter(**got["where"]).count()
                figures.append((way, round_, got, recorded))
                ms = [s * 1000 for s in got["latencies"]]
                print(
                    f"round {round_ + 1} {way:<26} {args.results / got['seconds']:>8,.0f} results/s"
                    f"  {got['seconds']:6.2f} s  request p50 {percentile(ms, 50):7.1f} ms "
                    f"p95 {percentile(ms, 95):7.1f} ms  server CPU {got['cpu']:5.2f} s "
                    f"(web {got['web_cpu']:.2f} s) "
                    f"({args.results / got['cpu']:,.0f} results per CPU-second)  "
                    f"recorded {recorded:,}/{args.results:,}",
                    flush=True,
                )
        api.close()
    print("\nmedian over rounds: results/s, results per server CPU-second")
    for way in dict.fromkeys(f[0] for f in figures):
        rates = [args.results / f[2]["seconds"] for f in figures if f[0] == way]
        per_cpu = [args.results / f[2]["cpu"] for f in figures if f[0] == way]
        complete = all(f[3] == args.results for f in figures if f[0] == way)
        note = "" if complete else "  (NOT every result recorded)"
        print(
            f"  {way:<26} {statistics.median(rates):>8,.0f} "
            f"{statistics.median(per_cpu):>8,.0f}{note}"
        )
    print(f"load average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
