"""Traces: inline JSON versus step rows, to choose IB_TRACE_INLINE_MAX_STEPS from data.

For traces of 10 / 50 / 200 / 1,000 / 5,000 / 50,000 realistic steps (HTTP-step payloads of about
1.3 kB, 5 % failing with a traceback), in each storage:
- append: step n+1 through executions.traces.trace_record_step, inside a transaction as the engine
  calls it, rolled back so every sample sees n steps (p50 / p95 over 200 appends; 20 at 5,000+, 5
  inline at 50,000, where each rewrites ~65 MB); the commit, the same for both, is measured apart;
- read: the whole trace through trace_steps, from loading the row to the list of dicts;
- final write: storing the finished trace in one statement (what promotion costs at the threshold);
then a fine sweep of the append cost below 200 steps to find where the curves cross, and the API
read of 5,000 steps (streamed, and in pages of 1,000) through Django's full request path.

Run: DATABASE_URL=postgres://postgres@127.0.0.1:5432/test .venv/bin/python bench/traces.py
(or name parts: `... bench/traces.py sweep api`). It re-creates its own database, ib_bench_traces,
and prints Markdown tables.
"""

import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import percentile, scratch_database, setup_django

SIZES = [10, 50, 200, 1_000, 5_000, 50_000]
SWEEP = [5, 10, 20, 30, 40, 50, 60, 75, 100, 150, 200]
STATUSES = ["passed"] * 19 + ["failed"]


def step_payload(order: int, rng: random.Random) -> dict:
    """The shape runners.base.step_record writes for an HTTP step."""
    status = rng.choice(STATUSES)
    path = f"/api/orders/{rng.randrange(10**6)}"
    body = {"id": rng.randrange(10**6), "items": [{"sku": f"SKU-{i}", "qty": i} for i in range(4)]}
    error = None
    if status == "failed":
        error = {
            "type": "AssertionError",
            "message": f"expected status 200, got 503 from {path}",
            "traceback": "Traceback (most recent call last):\n"
            + '  File "executions/runners/actions/http.py", line 88, in run\n' * 12,
            "suggestion": "Check that the service is up.",
        }
    return {
        "order": order,
        "name": f"GET {path} returns the order",
        "kind": "http",
        "status": status,
        "started_at": "2026-01-31T10:00:00.000000+00:00",
        "finished_at": "2026-01-31T10:00:00.042000+00:00",
        "duration_ms": rng.randrange(5, 400),
        "input": {
            "method": "GET",
            "url": f"https://shop.example.test{path}",
            "headers": {"Accept": "application/json", "X-Request-Id": f"{rng.getrandbits(64):x}"},
        },
        "expected": {"status": 200, "json_contains": {"status": "paid"}},
        "actual": {
            "status": 200 if status == "passed" else 503,
            "headers": {"Content-Type": "application/json", "Content-Length": "412"},
            "json": body,
            "elapsed_ms": rng.randrange(5, 400),
        },
        "error": error,
        "attachments": [],
        "attempt": 1,
    }


class Bench:
    def __init__(self) -> None:
        from catalog.models import Membership, Role
        from tests.factories import ProjectFactory, TestCaseFactory, UserFactory

        self.rng = random.Random(42)
        self.project = ProjectFactory()
        self.case = TestCaseFactory(project=self.project)
        self.user = UserFactory()
        Membership.objects.create(project=self.project, user=self.user, role=Role.VIEWER)

    def steps(self, n: int, start: int = 1) -> list[dict]:
        return [step_payload(order, self.rng) for order in range(start, start + n)]

    def attempt(self):
        from executions.models import Attempt, Execution

        execution = Execution.objects.create(
            project=self.project, test_case=self.case, status="running", timeout_seconds=60
        )
        return Attempt.objects.create(execution=execution, number=1, reason="first")

    def write(self, attempt, steps: list[dict], storage: str) -> float:
        """The final write: the whole trace in one statement (two for rows). Returns seconds."""
        from django.db import transaction

        from executions.models import StepRecord, Trace

        started = time.perf_counter()
        with transaction.atomic():
            trace = Trace.objects.create(
                attempt=attempt,
                execution_id=attempt.execution_id,
                storage=storage,
                steps=steps if storage == "inline" else [],
                step_count=len(steps),
                last_order=steps[-1]["order"],
            )
            if storage == "rows":
                StepRecord.objects.bulk_create(
                    (
                        StepRecord(trace=trace, order=s["order"], status=s["status"], data=s)
                        for s in steps
                    ),
                    batch_size=2000,
                )
        return time.perf_counter() - started

    def appends(self, attempt, storage: str, count: int) -> list[float]:
        """Append step n+1 to the n-step trace, `count` times (see append_once)."""
        return [self.append_once(attempt, storage) for _ in range(count)]

    def append_once(self, attempt, storage: str) -> float:
        """One append as under execution_record_step (a savepoint in the step's transaction),
        then rolled back, so every sample sees the same n steps. The commit is measured apart
        (commit_cost): it is the same for both storages."""
        from django.conf import settings
        from django.db import transaction

        from executions.traces import trace_record_step

        # Keep each trace in the storage under test, whatever its size.
        settings.IB_TRACE_INLINE_MAX_STEPS = 10**9 if storage == "inline" else 1
        step = step_payload(attempt.trace.last_order + 1, self.rng)
        with transaction.atomic():
            started = time.perf_counter()
            trace_record_step(attempt, step)
            elapsed = time.perf_counter() - started
            transaction.set_rollback(True)
        return elapsed

    def commit_cost(self, attempt, count: int) -> list[float]:
        """One small committed write: what every step pays once, whatever the storage."""
        from django.db import transaction
        from django.utils import timezone

        from executions.models import Trace

        times = []
        for _ in range(count):
            started = time.perf_counter()
            with transaction.atomic():
                Trace.objects.filter(attempt=attempt).update(updated_at=timezone.now())
            times.append(time.perf_counter() - started)
        return times

    def read(self, attempt, repeats: int) -> list[float]:
        from executions.models import Trace
        from executions.traces import trace_steps

        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            steps = trace_steps(Trace.objects.get(attempt=attempt))
            times.append(time.perf_counter() - started)
            assert len(steps) >= 1
        return times

    def api_read(self, attempt, repeats: int) -> tuple[list[float], list[float]]:
        """The whole trace through the API: streamed in one response, and in pages of 1,000."""
        from django.test import Client

        client = Client()
        client.force_login(self.user)
        base = f"/api/v1/executions/{attempt.execution_id}/steps/"
        streamed, paged = [], []
        client.get(base + "stream/")  # warm-up: the first request imports and resolves URLs
        for _ in range(repeats):
            started = time.perf_counter()
            response = client.get(base + "stream/")
            size = sum(len(chunk) for chunk in response.streaming_content)
            streamed.append(time.perf_counter() - started)
            assert response.status_code == 200 and size > 0
            started, after = time.perf_counter(), 0
            while after is not None:
                page = client.get(base, {"after": after, "limit": 1000}).json()
                after = page["next_after"]
            paged.append(time.perf_counter() - started)
        return streamed, paged


def ms(values: list[float], pct: float) -> str:
    return f"{percentile(values, pct) * 1000:.2f}"


def table(bench: Bench) -> None:
    from django.db import connection

    print(
        f"## Trace storage: inline JSON vs step rows (PostgreSQL {connection.pg_version // 10000})\n"
    )
    print(
        "| steps | storage | append p50 ms | append p95 ms | appends measured "
        "| read whole p50 ms | final write ms |"
    )
    print("|---:|---|---:|---:|---:|---:|---:|")
    for n in SIZES:
        for storage in ("inline", "rows"):
            attempt = bench.attempt()
            write = bench.write(attempt, bench.steps(n), storage)
            read = bench.read(attempt, repeats=3 if n >= 50_000 else 10)
            sample = 5 if (storage == "inline" and n >= 50_000) else 20 if n >= 5_000 else 200
            appended = bench.appends(attempt, storage, count=sample)
            print(
                f"| {n:,} | {storage} | {ms(appended, 50)} | {ms(appended, 95)} | {sample} "
                f"| {ms(read, 50)} | {write * 1000:.1f} |",
                flush=True,
            )


def sweep(bench: Bench) -> None:
    print("\n## Where the append curves cross (p50 / p95 ms of 300 appends each, interleaved)\n")
    print("| steps | inline p50 | inline p95 | rows p50 | rows p95 |")
    print("|---:|---:|---:|---:|---:|")
    medians: dict[str, list[float]] = {"inline": [], "rows": []}
    for n in SWEEP:
        attempts = {}
        for storage in ("inline", "rows"):
            attempts[storage] = bench.attempt()
            bench.write(attempts[storage], bench.steps(n), storage)
        costs = {"inline": [], "rows": []}
        for _ in range(300):  # interleaved, so load on the machine hits both alike
            for storage in ("inline", "rows"):
                costs[storage].append(bench.append_once(attempts[storage], storage))
        inline, rows = costs["inline"], costs["rows"]
        print(f"| {n} | {ms(inline, 50)} | {ms(inline, 95)} | {ms(rows, 50)} | {ms(rows, 95)} |")
        medians["inline"].append(percentile(inline, 50))
        medians["rows"].append(percentile(rows, 50))
    # Single medians are noisy on a shared machine: fit inline = a + b*n (it rewrites the list),
    # rows = c (it does not grow), and report where the lines meet.
    slope, intercept = statistics.linear_regression(SWEEP, medians["inline"])
    flat = statistics.fmean(medians["rows"])
    crossing = (flat - intercept) / slope if slope > 0 else float("inf")
    print(
        f"\nFit: inline = {intercept * 1000:.3f} ms + {slope * 1e6:.2f} us per step; "
        f"rows = {flat * 1000:.3f} ms flat; the lines cross at {crossing:.0f} steps."
    )
    commits = bench.commit_cost(attempts["rows"], 300)
    print(f"One commit (paid once per step by the engine): p50 {ms(commits, 50)} ms, ", end="")
    print(f"p95 {ms(commits, 95)} ms.")


def api(bench: Bench) -> None:
    print("\n## Reading 5,000 steps through the API (Django test client, session auth)\n")
    attempt = bench.attempt()
    bench.write(attempt, bench.steps(5_000), "rows")
    streamed, paged = bench.api_read(attempt, repeats=20)
    print("| how | p50 ms | p95 ms |")
    print("|---|---:|---:|")
    print(
        f"| GET steps/stream/ (one streamed response) | {ms(streamed, 50)} | {ms(streamed, 95)} |"
    )
    print(f"| GET steps/?limit=1000 x 5 pages | {ms(paged, 50)} | {ms(paged, 95)} |")


def main() -> None:
    parts = sys.argv[1:] or ["table", "sweep", "api"]
    setup_django(scratch_database("ib_bench_traces"))
    bench = Bench()
    for part in parts:
        {"table": table, "sweep": sweep, "api": api}[part](bench)


if __name__ == "__main__":
    main()
