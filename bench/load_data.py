"""The data set of bench/load.py: one project, 20 cases, N finished executions with their results.

Built set-based in PostgreSQL: one execution (with its attempt, trace and result) is made through
the ORM as a prototype, and `INSERT ... SELECT ... FROM generate_series` copies it N - 1 times,
varying what a real history varies (time, case, outcome, revision). 1,000,000 executions take
about a minute this way; the ORM one by one would take an hour. Every execution has its case
result (analytics read those); the executions the detail and page requests pick (`SAMPLE` of
them, spread over the whole table) also have an attempt and a five-step trace.
"""

from dataclasses import dataclass
from datetime import timedelta

SAMPLE = 2000
CASES = 20
# One execution a minute, newest now: the table's time span grows with its size, as a real one does.
SPACING = "1 minute"


@dataclass
class LoadData:
    token: str
    session: str  # a signed-in session of the same user, for the dashboard's pages
    project_id: int
    ids: list[int]  # executions with an attempt and a trace, spread over the table


def make_data(executions: int) -> LoadData:
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.utils import timezone
    from rest_framework.authtoken.models import Token

    from catalog.models import Membership, Project, Role, TestCase
    from executions.models import Attempt, AttemptReason, Execution, ExecutionStatus, Trace
    from results.models import CaseResult

    user = get_user_model().objects.create_user("load", password="load-password-1")
    project = Project.objects.create(name="Load", slug="load")
    Membership.objects.create(project=project, user=user, role=Role.VIEWER)
    cases = [
        TestCase.objects.create(project=project, key=f"case-{i}", name=f"Case {i}")
        for i in range(CASES)
    ]
    now = timezone.now()
    started = now - timedelta(seconds=3)
    proto = Execution.objects.create(
        project=project,
        test_case=cases[0],
        status=ExecutionStatus.PASSED,
        timeout_seconds=600,
        queued_at=started,
        started_at=started,
        finished_at=now,
        attempt_count=1,
        event_seq=5,
        revision="rev0",
        environment="staging",
        labels={"team": "web"},
        summary={"steps_total": 5, "steps_done": 5, "counts": {"passed": 5}},
    )
    attempt = Attempt.objects.create(
        execution=proto,
        number=1,
        reason=AttemptReason.FIRST,
        outcome=ExecutionStatus.PASSED,
        started_at=started,
        finished_at=now,
        worker="load-host:1",
    )
    steps = [
        {"order": i, "name": f"step {i}", "kind": "wait", "status": "passed", "duration_ms": 5}
        for i in range(5)
    ]
    Trace.objects.create(
        attempt=attempt,
        execution=proto,
        steps=steps,
        step_count=5,
        last_order=4,
        counts={"passed": 5},
    )
    CaseResult.objects.create(
        project=project,
        case=cases[0],
        execution=proto,
        attempt_number=1,
        outcome="passed",
        duration_ms=3000,
        queue_wait_ms=40,
        revision="rev0",
        environment="staging",
        labels={"team": "web"},
        created_at=now,
    )
    case_ids = "ARRAY[" + ",".join(str(c.pk) for c in cases) + "]::bigint[]"
    every = max(1, executions // SAMPLE)
    with connection.cursor() as cursor:
        _copy_executions(cursor, proto.pk, executions - 1, case_ids)
        _copy_results(cursor, proto.pk)
        _copy_attempts_and_traces(cursor, proto.pk, every)
        # Planner statistics as autovacuum would have them a minute after a bulk load.
        cursor.execute("ANALYZE")
    ids = list(
        Execution.objects.filter(attempts__isnull=False).values_list("id", flat=True)[:SAMPLE]
    )
    token = Token.objects.create(user=user).key
    return LoadData(token, _session_of(user), project.pk, ids)


def _session_of(user) -> str:
    """The key of a session signed in as `user`, as a sign-in through the login page leaves."""
    from importlib import import_module

    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY

    session = import_module(settings.SESSION_ENGINE).SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.save()
    return session.session_key


def main() -> None:
    """Build the data set in a scratch database and print it as JSON (bench/load.py runs this
    once per size, each in a process of its own: Django is set up for one database a process)."""
    import argparse
    import json
    import sys
    import time
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from bench.common import PRODUCTION_LIKE, scratch_database, setup_django

    parser = argparse.ArgumentParser()
    parser.add_argument("--executions", type=int, required=True)
    parser.add_argument("--database", required=True)
    args = parser.parse_args()
    url = scratch_database(args.database)
    setup_django(url, **PRODUCTION_LIKE)
    started = time.monotonic()
    data = make_data(args.executions)
    print(
        f"built {args.executions} executions in {time.monotonic() - started:.1f} s", file=sys.stderr
    )
    print(json.dumps({"database_url": url, **data.__dict__}))


def _columns(cursor, table: str, varied: dict[str, str]) -> tuple[str, str]:
    """(column list, select list) copying every column of `table` from the prototype row `p`
    except the id, and those in `varied` (column -> SQL expression)."""
    cursor.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = %s "
        "ORDER BY ordinal_position",
        [table],
    )
    names = [row[0] for row in cursor.fetchall() if row[0] != "id"]
    return ", ".join(names), ", ".join(varied.get(n, f"p.{n}") for n in names)


def _copy_executions(cursor, proto: int, count: int, case_ids: str) -> None:
    # g = 1 is the newest copy, a minute before the prototype; outcomes 8 passed in 10.
    at = f"p.created_at - g * interval '{SPACING}'"
    status = "CASE WHEN g %% 10 = 9 THEN 'failed' WHEN g %% 10 = 8 THEN 'error' ELSE 'passed' END"
    columns, select = _columns(
        cursor,
        "executions_execution",
        {
            "created_at": at,
            "queued_at": at,
            "started_at": at,
            "finished_at": f"{at} + interval '3 seconds'",
            "status": status,
            "test_case_id": f"({case_ids})[1 + g %% {CASES}]",
            "revision": "'rev' || (g / 50)",
        },
    )
    cursor.execute(
        f"INSERT INTO executions_execution ({columns}) SELECT {select} "
        f"FROM executions_execution p, generate_series(1, %s) AS g WHERE p.id = %s",
        [count, proto],
    )


def _copy_results(cursor, proto: int) -> None:
    columns, select = _columns(
        cursor,
        "results_caseresult",
        {
            "execution_id": "e.id",
            "case_id": "e.test_case_id",
            "created_at": "e.finished_at",
            "revision": "e.revision",
            "outcome": "e.status",
        },
    )
    cursor.execute(
        f"INSERT INTO results_caseresult ({columns}) SELECT {select} "
        "FROM results_caseresult p, executions_execution e "
        "WHERE p.execution_id = %s AND e.id <> %s",
        [proto, proto],
    )


def _copy_attempts_and_traces(cursor, proto: int, every: int) -> None:
    columns, select = _columns(cursor, "executions_attempt", {"execution_id": "e.id"})
    cursor.execute(
        f"INSERT INTO executions_attempt ({columns}) SELECT {select} "
        "FROM executions_attempt p, executions_execution e "
        "WHERE p.execution_id = %s AND e.id <> %s AND e.id %% %s = 0",
        [proto, proto, every],
    )
    columns, select = _columns(
        cursor, "executions_trace", {"execution_id": "a.execution_id", "attempt_id": "a.id"}
    )
    cursor.execute(
        f"INSERT INTO executions_trace ({columns}) SELECT {select} "
        "FROM executions_trace p, executions_attempt a "
        "WHERE p.execution_id = %s AND a.execution_id <> %s",
        [proto, proto],
    )


if __name__ == "__main__":
    main()
