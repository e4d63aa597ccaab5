"""Compare two runs of 100,000 tests (results.compare): the service, and the API answering it.

Seeds two JUnit imports of N tests each (N = 100,000 by default; a deterministic pattern, no
randomness): 1 % of tests newly fail, 1 % are fixed, 1 % still fail, 1 % are slower, 0.5 % added
and 0.5 % removed. Then times `runs_compare` (both sides read, buckets built) and
GET /api/v1/compare/ (the same plus the first page of every bucket as JSON).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/compare.py [N]
"""

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import PRODUCTION_LIKE, percentile, scratch_database, setup_django

ROUNDS = 7


def seed(count: int):
    from django.db import transaction
    from django.utils import timezone

    from catalog.models import Project, TestCase
    from core.bulk import insert_rows
    from results.models import CaseResult, ImportBatch

    project = Project.objects.create(name="bench compare", slug="bench-compare")
    removed, added = count // 200, count // 200
    keys = [f"shop.test_{i:06d}" for i in range(count + added)]
    with transaction.atomic():
        insert_rows(
            TestCase,
            [
                {
                    "project_id": project.pk,
                    "key": k,
                    "name": k,
                    "type": "generic",
                    "origin": "imported",
                    "description": "",
                    "tags": ["junit"],
                    "created_by_id": None,
                }
                for k in keys
            ],
        )
    ids = dict(TestCase.objects.filter(project=project).values_list("key", "id"))
    now = timezone.now()
    batches = []
    for side, name in enumerate(("base", "head")):
        batch = ImportBatch.objects.create(
            project=project, idempotency_key=name, branch="main", name="shop", created_at=now
        )
        batches.append(batch)
        # The base has tests 0..count-1; the head drops the first `removed` and adds `added`.
        span = range(count) if side == 0 else range(removed, count + added)
        rows = []
        for i in span:
            outcome, ms, message = _result(i, side)
            rows.append(
                {
                    "project_id": project.pk,
                    "case_id": ids[keys[i]],
                    "batch_id": batch.pk,
                    "suite_name": "shop",
                    "outcome": outcome,
                    "retries": 0,
                    "duration_ms": ms,
                    "revision": "",
                    "branch": "main",
                    "environment": "",
                    "message": message,
                    "details": {},
                    "created_at": now,
                }
            )
        with transaction.atomic():
            for start in range(0, len(rows), 5000):
                insert_rows(CaseResult, rows[start : start + 5000])
    return batches


def _result(i: int, side: int) -> tuple[str, int, str]:
    kind = i % 100
    if kind == 1:  # newly failing
        return ("passed", 120, "") if side == 0 else ("failed", 130, f"AssertionError: {i}\nat x")
    if kind == 2:  # fixed
        return ("failed", 120, "boom\ntrace") if side == 0 else ("passed", 110, "")
    if kind == 3:  # still failing, half with the same message
        return ("failed", 120, "timeout\ntrace" if i % 2 or side == 0 else "refused\ntrace")
    if kind == 4:  # slower
        return ("passed", 300 if side == 0 else 900, "")
    return ("passed", 200 + i % 7, "")


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    os.environ["DATABASE_URL"] = scratch_database("ib_bench_compare")
    setup_django(
        os.environ["DATABASE_URL"], **{**PRODUCTION_LIKE, "ALLOWED_HOSTS": "127.0.0.1,testserver"}
    )
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client

    from results.compare import runs_compare
    from results.run_refs import run_resolve

    t0 = time.perf_counter()
    base_batch, head_batch = seed(count)
    print(f"seeded 2 x {count:,} results in {time.perf_counter() - t0:.1f} s")
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE results_caseresult")
        cursor.execute("VACUUM ANALYZE catalog_testcase")
    base, head = run_resolve(f"import:{base_batch.pk}"), run_resolve(f"import:{head_batch.pk}")

    times, cpu = [], []
    for _ in range(ROUNDS):
        t0, c0 = time.perf_counter(), time.process_time()
        comparison = runs_compare(base, head)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    print(f"counts: {comparison.counts}")
    print(
        f"runs_compare, 2 x {count:,} tests: p50 {percentile(times, 50) * 1000:.0f} ms, "
        f"max {max(times) * 1000:.0f} ms ({ROUNDS} rounds); this process's CPU p50 "
        f"{percentile(cpu, 50) * 1000:.0f} ms (the rest is PostgreSQL); load average "
        f"{os.getloadavg()[0]:.1f}"
    )

    user = get_user_model().objects.create_superuser("bench", "b@example.test", "pw-bench-123")
    client = Client()
    client.force_login(user)
    url = f"/api/v1/compare/?base={base.ref}&head={head.ref}"
    times = []
    for _ in range(ROUNDS):
        t0 = time.perf_counter()
        response = client.get(url)
        times.append(time.perf_counter() - t0)
        assert response.status_code == 200, response.content[:300]
    print(
        f"GET /api/v1/compare/ (first 50 of each bucket), 2 x {count:,} tests: "
        f"p50 {percentile(times, 50) * 1000:.0f} ms, max {max(times) * 1000:.0f} ms "
        f"({len(response.content):,} bytes)"
    )


if __name__ == "__main__":
    main()
