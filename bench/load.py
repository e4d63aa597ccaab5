"""HTTP load on the read path (issue 14): wrk against the web process as production runs it.

In one run, for each data set size (default 10,000 and 1,000,000 executions, built set-based by
bench/load_data.py): uvicorn with 2 workers on PostgreSQL, then wrk at 8 and at 32 connections
on the floor (/health/live: no database, no authentication), the API (executions list, a page
of 50; execution detail; steps; analytics statistics) and the dashboard's pages (overview,
project, execution). Prints requests/s, p50/p95/p99, each one's ratio to the floor of the same
run (requests/s as a share of the floor's, p95 as a multiple of the floor's), and the server's
CPU per request: the web processes plus the PostgreSQL backends of the run's database, from
/proc, so another process on the machine does not count. The machine's load average is printed
at the start and end: on a shared machine, read the ratios, not the absolute figures.

`--before DIR` measures another checkout's web process too (the code before a change), on the
same data in the same run, so a before/after is read from one machine state.

With 4 or more cores wrk is pinned to the last core and the server to the others (taskset);
on fewer it shares them, and the output says so.

Usage: DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/load.py \\
           [--sizes 10000,1000000] [--seconds 10] [--connections 8,32] [--before DIR]
Needs wrk (Debian: apt-get install wrk).
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import PRODUCTION_LIKE, ROOT, child, wait_until

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
# A request per id, the ids drawn at random from the sample the data set gave an attempt and trace.
PER_ID = """
ids = {%s}
request = function()
  return wrk.format("GET", string.format("%s", ids[math.random(#ids)]))
end
"""
TICKS = os.sysconf("SC_CLK_TCK")


def targets(data: dict) -> list[tuple[str, str, str, str]]:
    """(name, path or path pattern, which credentials, lua script) of every measured request."""
    ids = ", ".join(map(str, data["ids"]))
    project = data["project_id"]
    return [
        ("floor: /health/live", "/health/live", "", ""),
        ("API executions list (page of 50)", "/api/v1/executions/", "token", ""),
        ("API execution detail", "/", "token", PER_ID % (ids, "/api/v1/executions/%d/")),
        ("API execution steps", "/", "token", PER_ID % (ids, "/api/v1/executions/%d/steps/")),
        (
            "API analytics statistics",
            f"/api/v1/analytics/statistics/?project={project}",
            "token",
            "",
        ),
        ("dashboard overview", "/", "session", ""),
        ("dashboard project (its executions)", f"/projects/{project}/", "session", ""),
        ("dashboard execution", "/", "session", PER_ID % (ids, "/executions/%d/")),
    ]


def cpu_seconds(pids: set[int]) -> dict[int, float]:
    """CPU seconds (user + system) of each of `pids` that still runs."""
    found = {}
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rpartition(")")[2].split()
        except OSError:
            continue
        found[pid] = (int(fields[11]) + int(fields[12])) / TICKS
    return found


def cpu_spent(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU the processes spent between the two readings. A process that ended in between is
    left out (its last figures are lost: a small undercount), one that started counts whole."""
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())


def process_tree(pid: int) -> set[int]:
    out = subprocess.run(["ps", "-e", "-o", "pid=,ppid="], capture_output=True, text=True).stdout
    children: dict[int, list[int]] = {}
    for line in out.splitlines():
        p, parent = map(int, line.split())
        children.setdefault(parent, []).append(p)
    found, todo = {pid}, [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            found.add(c)
            todo.append(c)
    return found


def backends(database_url: str, name: str) -> set[int]:
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            [name],
        ).fetchall()
    return {row[0] for row in rows}


def wrk(base: str, path: str, header: str, script: str, seconds: int, connections: int, pin):
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(script + REPORT)
    command = [*pin, "wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "-s", f.name]
    if header:
        command += ["-H", header]
    out = subprocess.run([*command, base + path], capture_output=True, text=True, check=True)
    line = next(line for line in out.stdout.splitlines() if line.startswith("RESULT"))
    return {k: float(v) for k, v in (part.split("=") for part in line.split()[1:])}


def build(size: int) -> dict:
    script = str(ROOT / "bench" / "load_data.py")
    # Named after the installation's namespace: two engineers' runs on one server stay apart.
    name = f"{os.environ.get('IB_NAMESPACE', 'ib').replace('-', '_')}_bench_load_{size}"
    out = subprocess.run(
        [sys.executable, script, "--executions", str(size), "--database", name],
        capture_output=True,
        text=True,
        check=True,
    )
    print(out.stderr.strip().splitlines()[-1], flush=True)
    return json.loads(out.stdout)


def measure(size: int, data: dict, args, pins, code: str, app_dir: str) -> list[dict]:
    server_pin, wrk_pin = pins
    env = {
        **os.environ,
        **PRODUCTION_LIKE,
        "DATABASE_URL": data["database_url"],
        "IB_ALERT_EVALUATE_SECONDS": "0",
    }
    server = [*server_pin, sys.executable, "-m", "uvicorn", "intellibrowse.asgi:application"]
    server += ["--port", str(PORT), "--workers", "2", "--log-level", "warning", "--no-access-log"]
    server += ["--app-dir", app_dir]
    base = f"http://127.0.0.1:{PORT}"
    headers = {
        "": "",
        "token": f"Authorization: Token {data['token']}",
        "session": f"Cookie: sessionid={data['session']}",
    }
    database = data["database_url"].rsplit("/", 1)[1]
    rows = []
    with child(server, env, f"uvicorn-load-{code}-{size}.log") as web:
        import httpx

        def up() -> bool:
            try:
                return httpx.get(f"{base}/health/live").status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(up, timeout=60)
        for name, path, who, script in targets(data):
            for connections in args.connections:
                wrk(base, path, headers[who], script, 2, connections, wrk_pin)  # warm-up
                pids = process_tree(web.pid) | backends(data["database_url"], database)
                before = cpu_seconds(pids)
                r = wrk(base, path, headers[who], script, args.seconds, connections, wrk_pin)
                pids |= backends(data["database_url"], database)
                cpu = cpu_spent(before, cpu_seconds(pids))
                rows.append(
                    {
                        "code": code,
                        "size": size,
                        "name": name,
                        "connections": connections,
                        "rps": r["requests"] / r["seconds"],
                        "errors": r["errors"],
                        "p50": r["p50"],
                        "p95": r["p95"],
                        "p99": r["p99"],
                        "cpu_ms": cpu * 1000 / max(r["requests"], 1),
                    }
                )
                print(_line(rows[-1], rows), flush=True)
    return rows


def _floor(row: dict, rows: list[dict]) -> dict:
    return next(
        r
        for r in rows
        if r["name"].startswith("floor")
        and (r["code"], r["size"], r["connections"])
        == (row["code"], row["size"], row["connections"])
    )


def _line(row: dict, rows: list[dict]) -> str:
    floor = _floor(row, rows)
    return (
        f"| {row['code']} | {row['name']} | {row['size']:,} | {row['connections']} | {row['rps']:,.0f} "
        f"| {row['p50']:.1f} | {row['p95']:.1f} | {row['p99']:.1f} "
        f"| {100 * row['rps'] / floor['rps']:.0f} % | {row['p95'] / floor['p95']:.1f}x "
        f"| {row['cpu_ms']:.2f} | {row['errors']:.0f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10000,1000000")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", default="8,32")
    parser.add_argument(
        "--before",
        help="another checkout of the project (e.g. `git archive main | tar -x -C DIR`): its web "
        "process is measured too, on the same data and in the same run, before this one's",
    )
    args = parser.parse_args()
    args.connections = [int(c) for c in args.connections.split(",")]
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed (apt-get install wrk)")
    cores = os.cpu_count() or 1
    if cores >= 4 and shutil.which("taskset"):
        pins = (["taskset", "-c", f"0-{cores - 2}"], ["taskset", "-c", str(cores - 1)])
        where = f"wrk pinned to core {cores - 1}, the server to cores 0-{cores - 2}"
    else:
        pins = ([], [])
        where = f"wrk and the server share the {cores} cores (too few to pin them apart)"
    sizes = [int(s) for s in args.sizes.split(",")]
    data = {size: build(size) for size in sizes}
    print(
        f"uvicorn --workers 2 (HTTP through the WSGI handler, a2wsgi), PostgreSQL, DEBUG off; "
        f"{args.seconds} s per figure after 2 s of warm-up; {where}; "
        f"load average at the start {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    print(
        "| code | request | executions | connections | requests/s | p50 ms | p95 ms | p99 ms "
        "| of the floor's requests/s | p95 / the floor's | server CPU ms per request | errors |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    trees = [("before", args.before)] if args.before else []
    trees.append(("after" if args.before else "this", str(ROOT)))
    for size in sizes:
        for code, app_dir in trees:
            measure(size, data[size], args, pins, code, app_dir)
    print(f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
