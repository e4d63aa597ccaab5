"""Shared set-up for the benchmarks: a scratch PostgreSQL database, Django, percentiles, tables.

Benchmarks print figures; they never assert on time. Run them with the project's interpreter, e.g.
`DATABASE_URL=postgres://postgres@127.0.0.1:5432/test .venv/bin/python bench/engine.py`.
"""

import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from contextlib import contextmanager, suppress
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"


# Settings as in production (DEBUG off, so no per-query bookkeeping), for the servers and workers
# a benchmark starts. The secret is a throwaway: these processes serve loopback only.
PRODUCTION_LIKE = {
    "DEBUG": "false",
    "SECRET_KEY": "benchmark-secret-key-not-for-production-use-0123456789",
    "SECURE_SSL_REDIRECT": "false",
    "ALLOWED_HOSTS": "127.0.0.1",
    "LOG_LEVEL": "WARNING",
}


def scratch_database(name: str) -> str:
    """Create (or re-create) database `name` next to DATABASE_URL's and return its URL."""
    import psycopg

    base = os.environ.get("DATABASE_URL", "")
    if not base.startswith(("postgres://", "postgresql://")):
        sys.exit("Set DATABASE_URL to a PostgreSQL server: the benchmarks measure PostgreSQL.")
    parts = urlsplit(base)
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return urlunsplit(parts._replace(path=f"/{name}"))


def setup_django(database_url: str, **env: str) -> None:
    sys.path.insert(0, str(ROOT))
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "intellibrowse.settings")
    os.environ.update(env)
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def machine_cpu_seconds() -> float | None:
    """CPU time the whole machine has spent busy (all cores, all processes), from /proc/stat; None
    where there is none. The difference over a run, divided by the work done, is the run's cost in
    CPU: a figure that moves less than throughput when the host itself is slower or busier."""
    try:
        with open("/proc/stat") as stat:
            fields = stat.readline().split()[1:]
    except OSError:
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


def summary_ms(values_s: list[float]) -> str:
    ms = [v * 1000 for v in values_s]
    return (
        f"n={len(ms)} p50={percentile(ms, 50):.1f} ms p95={percentile(ms, 95):.1f} ms "
        f"p99={percentile(ms, 99):.1f} ms mean={statistics.fmean(ms):.1f} ms"
    )


@contextmanager
def process_group(args: list[str], env: dict, log_path: Path, *, grace: float = 10):
    """Start a child process in its own process group, its output in `log_path`; on exit stop the
    whole group (the tests use this too).

    The whole group, not only the leader: qcluster's worker processes can outlive it by a moment,
    still connected to a database that the caller is about to flush or drop."""
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            args, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            yield proc
        finally:
            stop_group(proc, grace)


def stop_group(proc: subprocess.Popen, grace: float) -> None:
    """SIGTERM the group; SIGKILL whatever is left of it after `grace` seconds."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with suppress(ProcessLookupError):  # the whole group is gone already
            os.killpg(proc.pid, sig)
        if _group_gone(proc, grace):
            return


def _group_gone(proc: subprocess.Popen, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        proc.poll()  # reap the leader: until then it counts as a member of its group
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)


def child(args: list[str], env: dict, log_name: str):
    """A benchmark's child process, its output in bench/out/<log_name>."""
    OUT.mkdir(parents=True, exist_ok=True)
    return process_group(args, env, OUT / log_name, grace=15)


def wait_until(predicate, timeout: float, interval: float = 0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return None


class Hits:
    """Side effects counted by a local HTTP server: a step calls /hit/<execution>/<attempt>[/<step>]
    and each path's count says how often that side effect really happened."""

    def __init__(self) -> None:
        self.counts: Counter = Counter()
        self.lock = threading.Lock()
        hits = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                parts = self.path.strip("/").split("/")
                if len(parts) >= 3 and parts[0] == "hit":
                    with hits.lock:
                        hits.counts[tuple(int(p) for p in parts[1:])] += 1
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
