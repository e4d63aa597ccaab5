"""The executions page and a project's analytics page on a large history: how long a request
takes (server side, Django's test client in this process, no network), per filter and page.

The data set is bench/load.py's (bench/load_data.py): one project, 20 cases, N finished
executions a minute apart, each with its result; 10 % failed, 10 % errored.

    DATABASE_URL=postgres://... .venv/bin/python bench/dashboard_pages.py [--executions 100000]
"""

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import scratch_database, setup_django, summary_ms

REPEAT = 15


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--executions", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=REPEAT)
    args = parser.parse_args()
    url = scratch_database("ib_bench_dashboard_pages")
    setup_django(
        url,
        DEBUG="false",
        SECRET_KEY="benchmark-secret-key-not-for-production-use-0123456789",
        SECURE_SSL_REDIRECT="false",
        ALLOWED_HOSTS="testserver",
        LOG_LEVEL="WARNING",
    )
    from django.contrib.auth import get_user_model
    from django.test import Client

    from bench.load_data import make_data
    from executions.models import Execution

    started = time.monotonic()
    data = make_data(args.executions)
    print(f"built {args.executions:,} executions in {time.monotonic() - started:.0f} s")
    client = Client()
    client.force_login(get_user_model().objects.get(username="load"))
    # A cursor deep in the table: the page after the run 90 % of the way down.
    ids = list(Execution.objects.order_by("-created_at", "-id").values_list("id", flat=True))
    deep = ids[int(len(ids) * 0.9)]
    pages = {
        "executions, newest": "/executions/",
        "executions, failed": "/executions/?status=failed",
        "executions, one case": "/executions/?case=case-3",
        "executions, one revision": "/executions/?revision=rev70",
        "executions, a label": "/executions/?label=team:web",
        "executions, one day": "/executions/?since=2026-01-01&until=2026-01-01",
        "executions, 90 % down": f"/executions/?before={deep}",
        "executions, no match": "/executions/?branch=nope",
        "analytics, 30 days": f"/projects/{data.project_id}/analytics/",
        "analytics, 90 days, one env": f"/projects/{data.project_id}/analytics/"
        "?environment=staging&since=2000-01-01",
    }
    for name, path in pages.items():
        assert client.get(path).status_code == 200, path  # and warm
        times = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            client.get(path)
            times.append(time.perf_counter() - t0)
        print(f"{name:32} {summary_ms(times)}")


if __name__ == "__main__":
    main()
