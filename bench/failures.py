"""The Failures page, the groups API and a run's summary on a project with many results.

Seeds through the real write path: REPORTS JUnit reports of 100,000 testcases each are imported
by results.imports.junit_import (signatures, groups and hits written as in production), each a
new revision on branch main. 5 % of the testcases fail with one of FAULTS faults whose set
drifts from report to report (some faults go, come back, appear), so groups are new, known and
regressed; messages carry ids, addresses and times that the signatures take out. Then, with the
Django test client as a tester (DEBUG off): the Failures page (first page, filtered by state, by
category, a later page), the groups API, and the "what matters" summary of the last import.

Run: DATABASE_URL=postgres://postgres@127.0.0.1:5432/test .venv/bin/python bench/failures.py
[reports] (default 10: 1,000,000 results). It re-creates its own database (IB_BENCH_DB, default
ib_bench_failures) and prints Markdown tables.
"""

import os
import random
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import OUT, percentile, scratch_database, setup_django

TESTS = 100_000
FAULTS = 400
FAIL_RATE = 0.05


def _word(number: int) -> str:
    """A name made of letters: signatures take numbers out, so faults must differ in words."""
    letters = ""
    for _ in range(3):
        number, digit = divmod(number, 26)
        letters += chr(97 + digit)
    return letters


def write_report(path: Path, report: int, rng: random.Random) -> None:
    # The faults of this report: a window over the FAULTS that moves by 20 per report, so the
    # oldest go away and come back later (regressions) and new ones appear.
    live = [(report * 20 + k) % FAULTS for k in range(FAULTS // 2)]
    with path.open("w", encoding="utf-8") as out:
        out.write('<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="bench">\n')
        for suite in range(TESTS // 100):
            classname = f"com.acme.shop.module{suite % 37}.Feature{suite}Test"
            out.write(f'  <testsuite name="{classname}" tests="100">\n')
            for test in range(100):
                head = f'    <testcase name="test{test}" classname="{classname}" time="0.01"'
                if rng.random() >= FAIL_RATE:
                    out.write(head + "/>\n")
                    continue
                fault = rng.choice(live)
                message = (
                    f"order {uuid.uuid4()} failed at 10.0.{fault % 250}.9:{rng.randrange(1024, 65535)} "
                    f"(0x{rng.getrandbits(48):x})"
                )
                stack = "".join(
                    f"\tat com.acme.shop.{_word(fault)}.Layer{i}.call(Layer{i}.java:{rng.randrange(9, 999)})\n"
                    for i in range(6)
                )
                out.write(
                    head
                    + f'>\n      <failure type="com.acme.{_word(fault % 23).title()}Exception" '
                    f'message="{message}">com.acme.{_word(fault % 23).title()}Exception: {message}\n'
                    f"{stack}</failure>\n    </testcase>\n"
                )
            out.write("  </testsuite>\n")
        out.write("</testsuites>\n")


def seed(reports: int):
    from catalog.models import Membership, Role
    from results.imports import junit_import
    from tests.factories import ProjectFactory, UserFactory

    project = ProjectFactory(slug="failures")
    tester = UserFactory(username="bench-tester")
    Membership.objects.create(project=project, user=tester, role=Role.TESTER)
    rng = random.Random(17)
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / "junit-failures.xml"
    seconds = []
    batch = None
    for report in range(reports):
        write_report(path, report, rng)
        started = time.perf_counter()
        with path.open("rb") as stream:
            batch, _ = junit_import(
                project=project, stream=stream, branch="main", revision=f"r{report}"
            )
        seconds.append(time.perf_counter() - started)
        print(f"import {report + 1}/{reports}: {seconds[-1]:.1f} s", file=sys.stderr)
    return project, tester, batch, seconds


def measure(label: str, call, times: int = 20) -> str:
    call()  # warm-up
    spent = []
    for _ in range(times):
        t0 = time.perf_counter()
        call()
        spent.append(time.perf_counter() - t0)
    return f"| {label} | {percentile(spent, 50) * 1000:.1f} | {percentile(spent, 95) * 1000:.1f} |"


def main() -> None:
    """`failures.py [reports]` seeds and measures; `failures.py measure` measures again on the
    database the last run seeded (to repeat the figures at a quieter moment)."""
    again = sys.argv[1:] == ["measure"]
    reports = int(sys.argv[1]) if len(sys.argv) > 1 and not again else 10
    name = os.environ.get("IB_BENCH_DB", "ib_bench_failures")
    env = {"DEBUG": "false", "SECRET_KEY": "bench-only-secret-key", "SECURE_SSL_REDIRECT": "false"}
    if again:
        base = os.environ["DATABASE_URL"]
        url = base[: base.rindex("/") + 1] + name
    else:
        url = scratch_database(name)
    setup_django(url, **env)
    from django.contrib.auth import get_user_model
    from django.db import connection

    from catalog.models import Project
    from results.models import ImportBatch

    if again:
        project = Project.objects.get(slug="failures")
        tester = get_user_model().objects.get(username="bench-tester")
        last = ImportBatch.objects.filter(project=project).order_by("-id").first()
        reports, seconds = ImportBatch.objects.filter(project=project).count(), []
    else:
        project, tester, last, seconds = seed(reports)
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
    report_figures(project, tester, last, reports, seconds)


def report_figures(project, tester, last, reports: int, seconds: list[float]) -> None:
    from django.test import Client

    from results.models import CaseResult
    from results.runs import RunRef
    from results.summaries import run_summary
    from triage.models import Category, FailureGroup, GroupHit

    results = CaseResult.objects.filter(project=project).count()
    groups = FailureGroup.objects.filter(project=project).count()
    hits = GroupHit.objects.filter(project=project).count()
    bug = Category.objects.get(project=project, name="Product bug")
    FailureGroup.objects.filter(
        project=project, pk__in=FailureGroup.objects.filter(project=project).values("pk")[:40]
    ).update(category=bug)
    client = Client()
    client.force_login(tester)
    base = f"/projects/{project.pk}/failures/"

    def get(path):
        def call():
            response = client.get(path)
            assert response.status_code == 200, (path, response.status_code)

        return call

    print(
        f"## The Failures page on {results:,} results ({groups:,} groups, {hits:,} failed results)\n"
    )
    if seconds:
        print(
            f"Seeded by {reports} imports of {TESTS:,} testcases: {sum(seconds):.0f} s in all, "
            f"median {percentile(seconds, 50):.1f} s per import.\n"
        )
    print("| request | p50 ms | p95 ms |")
    print("|---|---:|---:|")
    print(measure("Failures page, first page (25 groups)", get(base)))
    print(measure("Failures page, state = regressed", get(base + "?state=regressed")))
    print(measure("Failures page, category = Product bug", get(base + f"?category={bug.pk}")))
    print(measure("Failures page, page 8", get(base + "?page=8")))
    print(
        measure(
            "API failure-groups, first page (50)",
            get(f"/api/v1/failure-groups/?project={project.pk}"),
        )
    )
    print(
        measure(
            "what matters of the last import (run summary)",
            lambda: run_summary(RunRef.of_batch(last.pk)),
            5,
        )
    )


if __name__ == "__main__":
    main()
