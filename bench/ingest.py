"""JUnit ingest at 100,000 testcases, and analytics over 100,000 executions.

Ingest: a generated Surefire-style report (1,000 suites of 100 testcases; 92 % pass, 4 % fail with
a stack trace and captured output, 1 % error, 3 % skipped, 0.5 % flaky reruns) is imported by
results.imports.junit_import, each run in a fresh process so its peak memory can be read:
- 10,000 and 100,000 testcases into an empty catalog (every case is created);
- the 100,000 again as a new revision (cases exist; history and flaky scores move on);
- the same upload again with its idempotency key (a no-op);
- the 100,000 through POST /api/v1/imports/junit/ (Django test client, raw XML body).

Analytics: 100,000 finished executions of 500 cases over 90 days, each with its CaseResult as
result processing writes it; then GET /api/v1/analytics/statistics/ and /trends/ over 30 and 90
days, with the PostgreSQL plan of the trends query.

Signatures: the 100,000 imported as next revisions with failure signatures and groups, and
without (signing patched out and no results_recorded receivers), alternating: their cost.

Run: DATABASE_URL=postgres://postgres@127.0.0.1:5432/test .venv/bin/python bench/ingest.py
(all parts) or `... bench/ingest.py signatures` (one part).
It re-creates its own database, ib_bench_ingest, writes the reports under bench/out/ and prints
Markdown tables.
"""

import json
import os
import random
import resource
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import OUT, percentile, scratch_database, setup_django

ROOT = Path(__file__).resolve().parent.parent
STACK = "".join(
    f"\tat com.acme.shop.module.Service.call{i}(Service.java:{100 + i})\n" for i in range(12)
)


def write_report(path: Path, testcases: int, seed: int) -> None:
    """A report as Maven Surefire writes it, streamed to disk."""
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8") as out:
        out.write('<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="bench">\n')
        for suite in range(testcases // 100):
            classname = f"com.acme.shop.module{suite % 37}.Feature{suite}Test"
            out.write(
                f'  <testsuite name="{classname}" tests="100" time="1.5">\n'
                '    <properties><property name="java.version" value="17.0.9"/></properties>\n'
            )
            for test in range(100):
                out.write(_testcase(classname, f"test{test}", rng))
            out.write("  </testsuite>\n")
        out.write("</testsuites>\n")


def _testcase(classname: str, name: str, rng: random.Random) -> str:
    time_s = f"{rng.expovariate(20):.3f}"
    head = f'    <testcase name="{name}" classname="{classname}" time="{time_s}"'
    roll = rng.random()
    if roll < 0.92:
        return head + "/>\n"
    if roll < 0.96:
        return (
            head + '>\n      <failure message="expected: &lt;200&gt; but was: &lt;503&gt;" '
            'type="org.opentest4j.AssertionFailedError"><![CDATA['
            f"org.opentest4j.AssertionFailedError: expected: <200> but was: <503>\n{STACK}]]>"
            "</failure>\n      <system-out><![CDATA[GET /api/orders -> 503 Service Unavailable\n"
            "retry budget exhausted]]></system-out>\n    </testcase>\n"
        )
    if roll < 0.97:
        return (
            head + '>\n      <error message="Connection refused" type="java.net.ConnectException">'
            f"<![CDATA[java.net.ConnectException: Connection refused\n{STACK}]]></error>\n"
            "    </testcase>\n"
        )
    if roll < 0.995:
        return head + '>\n      <skipped message="Disabled until SHOP-88"/>\n    </testcase>\n'
    return (
        head + '>\n      <flakyFailure message="Connection reset" type="java.net.SocketException">'
        f"<stackTrace><![CDATA[java.net.SocketException: Connection reset\n{STACK}]]>"
        "</stackTrace></flakyFailure>\n    </testcase>\n"
    )


# --- one import per process ----------------------------------------------------------------------


def child_import(args: list[str]) -> None:
    """Runs in its own process: one import, then its time and memory as JSON on stdout."""
    path, slug, key, revision, via = args
    # Django only (the parent migrated): the memory measured is the import's, not migrate's.
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "intellibrowse.settings")
    import django

    django.setup()
    from catalog.models import Project

    project = Project.objects.get(slug=slug)
    spent = _time_signing_and_grouping() if via == "service" else {}
    if via == "unsigned":  # the baseline of the signature figure: no signatures, no groups
        import results.imports
        from results.signals import results_recorded

        results.imports.signature_of_junit = lambda message, details: ""
        results_recorded.receivers.clear()
        via = "service"
    if via == "memory":  # the Python heap's peak (tracemalloc slows the run: timed apart)
        tracemalloc.start()
    started = time.perf_counter()
    if via == "api":
        batch_id, created = _import_over_api(project, Path(path), key, revision)
    else:
        from results.imports import junit_import

        with open(path, "rb") as stream:
            batch, created = junit_import(
                project=project, stream=stream, idempotency_key=key, revision=revision
            )
        batch_id = batch.pk
    seconds = time.perf_counter() - started
    heap_peak = tracemalloc.get_traced_memory()[1] if via == "memory" else 0
    from results.models import ImportBatch

    batch = ImportBatch.objects.get(pk=batch_id)
    print(
        json.dumps(
            {
                "seconds": seconds,
                "created": created,
                "tests": batch.totals.get("tests", 0),
                "new_cases": batch.new_cases if created else 0,
                "heap_peak_mb": heap_peak / 2**20,
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "size_mb": Path(path).stat().st_size / 2**20,
                **spent,
            }
        )
    )


def _time_signing_and_grouping() -> dict:
    """Wrap the signing function and the failure-group receiver with timers: their own share of
    an import, a figure that other load on the machine does not blur as much as two imports'
    difference does. The dict fills in as the import runs."""
    import results.imports
    from results.signals import results_recorded
    from triage import grouping

    spent = {"signing_s": 0.0, "grouping_s": 0.0}
    sign = results.imports.signature_of_junit

    def timed_sign(message, details):
        t0 = time.perf_counter()
        try:
            return sign(message, details)
        finally:
            spent["signing_s"] += time.perf_counter() - t0

    def timed_group(sender, **kwargs):
        t0 = time.perf_counter()
        try:
            grouping.on_results_recorded(sender, **kwargs)
        finally:
            spent["grouping_s"] += time.perf_counter() - t0

    results.imports.signature_of_junit = timed_sign
    results_recorded.receivers.clear()
    results_recorded.connect(timed_group, weak=False)
    return spent


def _import_over_api(project, path: Path, key: str, revision: str) -> tuple[int, bool]:
    from django.contrib.auth import get_user_model
    from django.test import Client

    from catalog.models import Membership, Role

    user, _ = get_user_model().objects.get_or_create(username="bench-ci")
    Membership.objects.get_or_create(project=project, user=user, defaults={"role": Role.TESTER})
    client = Client()
    client.force_login(user)
    response = client.post(
        f"/api/v1/imports/junit/?project={project.pk}&revision={revision}",
        data=path.read_bytes(),
        content_type="application/xml",
        HTTP_IDEMPOTENCY_KEY=key,
    )
    assert response.status_code in (200, 201), response.content[:500]
    return response.json()["id"], response.status_code == 201


def run_child(path: Path, slug: str, key: str, revision: str, via: str = "service") -> dict:
    # As in production: DEBUG off (with it on, Django keeps every query's SQL in memory).
    env = {
        **os.environ,
        "DEBUG": "false",
        "SECRET_KEY": "bench-only-secret-key",
        "SECURE_SSL_REDIRECT": "false",
    }
    result = subprocess.run(
        [sys.executable, __file__, "--child", str(path), slug, key, revision, via],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def ingest() -> None:
    from tests.factories import ProjectFactory

    OUT.mkdir(parents=True, exist_ok=True)
    small, large = OUT / "junit-10k.xml", OUT / "junit-100k.xml"
    write_report(small, 10_000, seed=1)
    write_report(large, 100_000, seed=2)
    for slug in ("ingest-small", "ingest", "memory-small", "memory-large"):
        ProjectFactory(slug=slug)
    runs = [
        ("10,000, new catalog", run_child(small, "ingest-small", "small-1", "r1")),
        ("100,000, new catalog", run_child(large, "ingest", "large-1", "r1")),
        ("100,000 again, next revision", run_child(large, "ingest", "large-2", "r2")),
        ("100,000 re-uploaded, same key (no-op)", run_child(large, "ingest", "large-2", "r2")),
        ("100,000 over the API, next revision", run_child(large, "ingest", "large-3", "r3", "api")),
    ]
    print("## JUnit ingest (PostgreSQL, one process per run)\n")
    print("| report | file MB | testcases | new cases | seconds | testcases/s | peak RSS MB |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for label, r in runs:
        rate = f"{r['tests'] / r['seconds']:,.0f}" if r["created"] else "-"
        print(
            f"| {label} | {r['size_mb']:.1f} | {r['tests']:,} | {r['new_cases']:,} "
            f"| {r['seconds']:.2f} | {rate} | {r['peak_rss_mb']:.0f} |"
        )
    print(
        "\nMemory: peak of the Python heap during an import into an empty catalog (tracemalloc)\n"
    )
    print("| report | file MB | heap peak MB |")
    print("|---|---:|---:|")
    for label, path, slug in (
        ("10,000", small, "memory-small"),
        ("100,000", large, "memory-large"),
    ):
        r = run_child(path, slug, "m", "r1", "memory")
        print(f"| {label} | {r['size_mb']:.1f} | {r['heap_peak_mb']:.1f} |")


# --- what failure signatures and groups cost an import -------------------------------------------


def signatures() -> None:
    """The 100,000-testcase import as a next revision (cases and groups exist), with signatures
    and failure groups and without (signing patched out, no receivers), alternating, three each."""
    from tests.factories import ProjectFactory

    OUT.mkdir(parents=True, exist_ok=True)
    large = OUT / "junit-100k.xml"
    if not large.exists():
        write_report(large, 100_000, seed=2)
    ProjectFactory(slug="signed")
    run_child(large, "signed", "warm", "r0")  # creates the cases (and the groups) once
    times: dict[str, list[float]] = {"unsigned": [], "service": []}
    shares = []
    for i in range(3):
        for via in ("unsigned", "service"):
            r = run_child(large, "signed", f"{via}-{i}", f"r{i + 1}", via)
            times[via].append(r["seconds"])
            if via == "service":
                shares.append((r["seconds"], r["signing_s"], r["grouping_s"]))
    from results.models import CaseResult
    from triage.models import FailureGroup, GroupHit

    signed = CaseResult.objects.exclude(signature="").count()
    print("\n## Failure signatures and groups in a 100,000-testcase import (next revision)\n")
    print("| import | runs (s) | median s |")
    print("|---|---|---:|")
    for label, via in (("without signatures or groups", "unsigned"), ("with both", "service")):
        runs = ", ".join(f"{t:.2f}" for t in times[via])
        print(f"| {label} | {runs} | {percentile(times[via], 50):.2f} |")
    base, full = percentile(times["unsigned"], 50), percentile(times["service"], 50)
    print(
        f"\nDifference of the medians: {100 * (full - base) / base:+.1f} % ({signed:,} signed "
        f"results, {FailureGroup.objects.count()} groups, {GroupHit.objects.count():,} hits)\n"
    )
    print("Measured inside each signed import (timers around the two functions):\n")
    print("| import s | signing s | grouping s | share of the import |")
    print("|---:|---:|---:|---:|")
    for seconds, signing, grouping in shares:
        share = 100 * (signing + grouping) / seconds
        print(f"| {seconds:.2f} | {signing:.2f} | {grouping:.2f} | {share:.1f} % |")


# --- analytics over 100,000 executions -------------------------------------------------------------


def seed_executions(count: int, cases: int, days: int):
    """Finished executions spread over `days`, each with the CaseResult processing writes."""
    from datetime import timedelta

    from django.db import connection
    from django.utils import timezone

    from catalog.models import TestCase
    from executions.models import Execution
    from results.models import CaseResult
    from tests.factories import ProjectFactory

    rng = random.Random(3)
    project = ProjectFactory(slug="analytics")
    TestCase.objects.bulk_create(
        TestCase(project=project, key=f"checkout.case{i}", name=f"case {i}") for i in range(cases)
    )
    case_ids = list(TestCase.objects.filter(project=project).values_list("id", flat=True))
    now = timezone.now()
    outcomes = ["passed"] * 90 + ["failed"] * 7 + ["error"] * 2 + ["skipped"]
    for start in range(0, count, 10_000):
        executions, results = [], []
        for _ in range(min(10_000, count - start)):
            finished = now - timedelta(seconds=rng.randrange(days * 86400))
            outcome = rng.choice(outcomes)
            executions.append(
                Execution(
                    project=project,
                    test_case_id=rng.choice(case_ids),
                    status=outcome if outcome != "skipped" else "cancelled",
                    timeout_seconds=600,
                    branch=rng.choice(["main", "main", "main", "release"]),
                    labels={"env": rng.choice(["staging", "prod"])},
                    finished_at=finished,
                    rolled_up=True,
                )
            )
            results.append((outcome, finished))
        Execution.objects.bulk_create(executions)
        CaseResult.objects.bulk_create(
            CaseResult(
                project=project,
                case_id=e.test_case_id,
                execution=e,
                attempt_number=1,
                outcome=outcome,
                duration_ms=int(rng.lognormvariate(6, 1)),
                queue_wait_ms=int(rng.expovariate(1 / 800)),
                branch=e.branch,
                labels=e.labels,
                created_at=finished,
            )
            for e, (outcome, finished) in zip(executions, results, strict=True)
        )
    with connection.cursor() as cursor:
        # As autovacuum would: statistics for the planner, a visibility map for index-only scans.
        cursor.execute("VACUUM ANALYZE results_caseresult")
        cursor.execute("VACUUM ANALYZE executions_execution")
    return project


def analytics() -> None:
    from datetime import timedelta

    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.utils import timezone

    from catalog.models import Membership, Role
    from results.selectors import ResultFilter, trends_queryset

    started = time.perf_counter()
    project = seed_executions(100_000, cases=500, days=90)
    seeded = time.perf_counter() - started
    user = get_user_model().objects.create(username="bench-analyst")
    Membership.objects.create(project=project, user=user, role=Role.VIEWER)
    client = Client()
    client.force_login(user)
    today = timezone.localdate()
    print(f"\n## Analytics over 100,000 executions (seeded in {seeded:.0f} s)\n")
    print("| request | p50 ms | p95 ms |")
    print("|---|---:|---:|")
    for days in (30, 90):
        since = today - timedelta(days=days - 1)
        for endpoint, extra in (
            ("statistics", ""),
            ("trends", ""),
            ("trends", "&branch=main"),
            ("trends", "&label=env:prod"),
        ):
            url = f"/api/v1/analytics/{endpoint}/?project={project.pk}&since={since}{extra}"
            client.get(url)  # warm-up
            times = []
            for _ in range(20):
                t0 = time.perf_counter()
                response = client.get(url)
                times.append(time.perf_counter() - t0)
                assert response.status_code == 200
            label = f"{endpoint}, {days} days{extra.replace('&', ', ')}"
            print(
                f"| {label} | {percentile(times, 50) * 1000:.1f} | {percentile(times, 95) * 1000:.1f} |"
            )
    for days in (30, 90):
        flt = ResultFilter.parse(project.pk, {"since": str(today - timedelta(days=days - 1))})
        print(f"\nPlan of the {days}-day trends query (EXPLAIN ANALYZE):\n")
        print("```")
        print(trends_queryset(flt).explain(analyze=True))
        print("```")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child_import(sys.argv[2:])
        return
    parts = sys.argv[1:] or ["ingest", "analytics"]
    # IB_BENCH_DB: another name, so that two people can run it on one server at once
    os.environ["DATABASE_URL"] = scratch_database(os.environ.get("IB_BENCH_DB", "ib_bench_ingest"))
    setup_django(os.environ["DATABASE_URL"])
    for part in parts:
        {"ingest": ingest, "analytics": analytics, "signatures": signatures}[part]()


if __name__ == "__main__":
    main()
