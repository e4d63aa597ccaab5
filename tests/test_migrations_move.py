"""The app move of issue 13 keeps every row, and can be undone.

The catalog's models went from `executions` to `catalog` and the step traces from `results` to
`executions`: state-only moves, then table renames (catalog 0001-0002, executions 0011-0013,
results 0003-0004); content types follow (so do permissions and admin history) and django-q2
schedules call `engine.tasks`. These tests migrate the test database back to just before the
move, write data with the historical models, migrate forward (and back, and forward again) and
compare every table row by row, then read the relations back through today's models.

DDL, so transactional; each test leaves the database at the leaf migrations, as it found it."""

import pytest
from django.apps import apps as current_apps
from django.conf import settings
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Group, User
from django.db import connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.loader import MigrationLoader
from django.utils import timezone

from catalog.models import Project, TestCase
from executions.models import Attempt, Execution, Trace
from executions.traces import trace_of, trace_record_step, trace_steps

# Where each app stood just before the move ("catalog": None is zero: the app did not exist).
BEFORE_MOVE = {
    "catalog": None,
    "executions": "0010_runnerprofile_unconfined_help",
    "results": "0002_history_imports_hooks",
    "monitoring": "0002_workerheartbeat_idle_since",
    "triage": None,  # an app born after the move, on top of the moved tables
}
RENAMED_TABLES = {
    "executions_project": "catalog_project",
    "executions_membership": "catalog_membership",
    "executions_testcase": "catalog_testcase",
    "executions_testsuite": "catalog_testsuite",
    "executions_suiteitem": "catalog_suiteitem",
    "executions_runnerprofile": "catalog_runnerprofile",
    "results_trace": "executions_trace",
    "results_steprecord": "executions_steprecord",
}
# (app label, model) before the move -> app label after: the table names say it.
MOVED_APP_LABEL = {
    tuple(old.split("_", 1)): new.split("_", 1)[0] for old, new in RENAMED_TABLES.items()
}
# What migrations after the move added (the test migrates to today's leaves): tables, and columns
# of existing tables by their name today. The move is judged on everything else.
ADDED_SINCE_THE_MOVE = {
    "executions_reportedbatch": None,  # the whole table (executions 0014)
    "executions_execution": {"lease_seconds"},  # executions 0014
    "results_importbatch": {"notes"},  # results 0006
    "catalog_project": {"webhook_url"},  # catalog 0005
    "results_runnotification": None,  # results 0008
    "results_caseresult": {"signature"},  # results 0009
    # the triage app (triage 0001)
    "triage_category": None,
    "triage_failuregroup": None,
    "triage_grouphit": None,
    "triage_casefix": None,
    "triage_triagerule": None,
    "triage_triageevent": None,
}
INLINE_STEPS = [
    {"order": 0, "name": "open", "status": "passed", "duration_ms": 12},
    {"order": 1, "name": "check title", "status": "failed", "error": {"type": "Assert"}},
]
ROW_STEPS = [{"order": n, "name": f"step {n}", "status": "passed"} for n in range(3)]
# The rows _write_old_data writes, per table (under the names before the move).
WRITTEN = {
    "executions_project": 1,
    "executions_membership": 2,
    "executions_runnerprofile": 1,
    "executions_testcase": 3,
    "executions_testsuite": 1,
    "executions_suiteitem": 2,
    "executions_execution": 4,
    "executions_attempt": 3,
    "executions_executionevent": 2,
    "executions_attachment": 1,
    "executions_runschedule": 1,
    "results_trace": 2,
    "results_steprecord": 3,
    "results_importbatch": 1,
    "results_caseresult": 2,
    "results_casestats": 1,
    "results_caseevent": 1,
    "results_suitehook": 1,
    "auth_group_permissions": 1,
    "django_admin_log": 1,
}


def _migrate(targets) -> None:
    MigrationExecutor(connection).migrate(targets)


def _leaves() -> list[tuple[str, str]]:
    return MigrationLoader(connection).graph.leaf_nodes()


def _before_move() -> list[tuple[str, str | None]]:
    others = [node for node in _leaves() if node[0] not in BEFORE_MOVE]
    return others + list(BEFORE_MOVE.items())


@pytest.fixture
def before_move(transactional_db):
    """The database as it was just before the move; yields the models of that time."""
    _migrate(_before_move())
    nodes = [node for node in _before_move() if node[1] is not None]
    yield MigrationLoader(connection).project_state(nodes).apps
    _migrate(_leaves())


def _write_old_data(apps) -> dict:
    """A little of everything the move touches, written with the models of before the move."""
    get = apps.get_model
    owner = get("auth", "User").objects.create(username="mig-owner", password="!")
    tester = get("auth", "User").objects.create(username="mig-tester", password="!")
    project = get("executions", "Project").objects.create(
        name="Move", slug="move", allowed_hosts=["example.com"], max_concurrency=3
    )
    membership = get("executions", "Membership").objects
    membership.create(project=project, user=owner, role="maintainer")
    membership.create(project=project, user=tester, role="tester")
    get("executions", "RunnerProfile").objects.create(
        project=project, name="pytest", argv=["{{ python }}", "-m", "pytest"], env={"CI": "1"}
    )
    cases = get("executions", "TestCase").objects
    generic = cases.create(
        project=project,
        key="api/health",
        name="Health",
        type="generic",
        created_by=owner,
        steps=[{"action": "http", "params": {"url": "/health"}}],
        tags=["smoke"],
    )
    manual = cases.create(
        project=project,
        key="manual/login",
        name="Log in",
        type="manual",
        steps=[{"name": "Open the login page", "expected": "A form"}],
    )
    bdd = cases.create(
        project=project,
        key="bdd/cart",
        name="Cart",
        type="bdd",
        priority=1,
        feature="Feature: Cart\n  Scenario: add\n    Given an empty cart\n",
    )
    suite = get("executions", "TestSuite").objects.create(project=project, name="Smoke")
    get("executions", "SuiteItem").objects.create(suite=suite, case=generic, order=0)
    get("executions", "SuiteItem").objects.create(suite=suite, case=bdd, order=1)

    runs = get("executions", "Execution").objects
    rerun = runs.create(
        project=project,
        test_case=generic,
        status="passed",
        timeout_seconds=60,
        attempt_count=2,
        triggered_by=tester,
    )
    manual_run = runs.create(
        project=project, test_case=manual, status="awaiting_input", timeout_seconds=600
    )
    suite_run = runs.create(project=project, test_suite=suite, status="running", timeout_seconds=90)
    runs.create(
        project=project, test_case=bdd, parent=suite_run, trigger="suite", timeout_seconds=9
    )
    attempts = get("executions", "Attempt").objects
    first = attempts.create(execution=rerun, number=1, reason="first", outcome="failed")
    second = attempts.create(execution=rerun, number=2, reason="rerun", outcome="passed")
    manual_attempt = attempts.create(execution=manual_run, number=1, reason="first")
    for seq, (kind, to_status) in enumerate([("transition", "running"), ("step", "")], start=1):
        get("executions", "ExecutionEvent").objects.create(
            execution=rerun, project=project, seq=seq, kind=kind, to_status=to_status
        )
    get("executions", "Attachment").objects.create(
        execution=rerun,
        path="attachments/move/shot.png",
        name="shot.png",
        content_type="image/png",
        size=1234,
    )

    traces = get("results", "Trace").objects
    inline = traces.create(
        attempt=first,
        execution=rerun,
        steps=INLINE_STEPS,
        step_count=2,
        last_order=1,
        counts={"passed": 1, "failed": 1},
    )
    rows = traces.create(
        attempt=second,
        execution=rerun,
        storage="rows",
        step_count=3,
        last_order=2,
        counts={"passed": 3},
    )
    for step in ROW_STEPS:
        get("results", "StepRecord").objects.create(
            trace=rows, order=step["order"], status=step["status"], data=step
        )

    batch = get("results", "ImportBatch").objects.create(
        project=project, idempotency_key="ci-42", content_sha256="0" * 64, created_by=owner
    )
    results = get("results", "CaseResult").objects
    results.create(
        project=project, case=generic, execution=rerun, attempt_number=2, outcome="passed"
    )
    results.create(project=project, case=bdd, batch=batch, outcome="failed", message="boom")
    get("results", "CaseStats").objects.create(
        case=generic,
        project=project,
        runs=2,
        passed=1,
        failed=1,
        recent=["failed", "passed"],
        flips=1,
        flaky_score=0.5,
        is_flaky=True,
    )
    get("results", "CaseEvent").objects.create(project=project, case=generic, kind="flaky")
    get("results", "SuiteHook").objects.create(suite=suite, secret="s" * 64, badge_key="b" * 32)

    q_schedule = get("django_q", "Schedule").objects.create(
        name="intellibrowse schedule",
        func="executions.tasks.run_schedule",
        schedule_type="C",
        cron="0 2 * * *",
        repeats=-1,
    )
    schedule = get("executions", "RunSchedule").objects.create(
        project=project, name="Nightly", cron="0 2 * * *", test_suite=suite, q_schedule=q_schedule
    )
    q_schedule.args = repr((schedule.pk,))
    q_schedule.save()

    content_type, _ = get("contenttypes", "ContentType").objects.get_or_create(
        app_label="executions", model="testcase"
    )
    permission, _ = get("auth", "Permission").objects.get_or_create(
        content_type=content_type, codename="change_testcase", defaults={"name": "Can change"}
    )
    group = get("auth", "Group").objects.create(name="Case editors")
    group.permissions.add(permission)
    tester.groups.add(group)
    get("admin", "LogEntry").objects.create(
        user=owner,
        content_type=content_type,
        object_id=str(generic.pk),
        object_repr="Health",
        action_flag=2,
        change_message="[]",
        action_time=timezone.now(),
    )
    return {
        "tester": tester.pk,
        "project": project.pk,
        "generic": generic.pk,
        "manual": manual.pk,
        "bdd": bdd.pk,
        "rerun": rerun.pk,
        "first": first.pk,
        "second": second.pk,
        "manual_attempt": manual_attempt.pk,
        "inline": inline.pk,
        "rows": rows.pk,
        "group": group.pk,
    }


# --- what the database holds -----------------------------------------------------------------


def _rows(table: str) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
        columns = [column[0] for column in cursor.description]
        # Each row's (column, value) pairs by column name: a later AlterField that SQLite carries
        # out by rebuilding the table (executions 0015) changes the order of its columns, not
        # what they hold.
        return sorted(
            (tuple(sorted(zip(columns, row, strict=True))) for row in cursor.fetchall()), key=repr
        )


def _snapshot() -> dict[str, list[tuple]]:
    """Every row of every table (the migration history aside), as the database returns it."""
    with connection.cursor() as cursor:
        tables = connection.introspection.table_names(cursor)
    return {table: _rows(table) for table in tables if table != "django_migrations"}


def _edit(rows: list[tuple], change) -> list[tuple]:
    # Rows are (column, value) pairs by column name, as _rows reads them.
    return sorted((tuple(sorted(change(dict(row)).items())) for row in rows), key=repr)


def _manual_runs_keep_their_wait(executions: list[tuple], cases: list[tuple]) -> list[tuple]:
    """executions 0018: a manual case's run keeps the wait it had (IB_MANUAL_TIMEOUT_SECONDS,
    which bounded a manual run whatever its timeout said), now that its timeout is that wait.
    Going back leaves it so: the code before 0018 does not read a manual run's timeout."""
    manual = {dict(row)["id"] for row in cases if dict(row)["type"] == "manual"}
    return _edit(
        executions,
        lambda row: (
            {**row, "timeout_seconds": settings.IB_MANUAL_TIMEOUT_SECONDS}
            if row["test_case_id"] in manual
            else row
        ),
    )


def _moved(snapshot: dict) -> dict:
    """The snapshot as the move should leave it: tables renamed, content types moved, django-q2
    schedules calling engine.tasks; nothing else changed."""

    def move_content_type(row):
        row["app_label"] = MOVED_APP_LABEL.get((row["app_label"], row["model"]), row["app_label"])
        return row

    def move_task(row):
        if row["func"].startswith("executions.tasks."):
            row["func"] = "engine.tasks." + row["func"].removeprefix("executions.tasks.")
        return row

    moved = {RENAMED_TABLES.get(table, table): rows for table, rows in snapshot.items()}
    moved["django_content_type"] = _edit(moved["django_content_type"], move_content_type)
    moved["django_q_schedule"] = _edit(moved["django_q_schedule"], move_task)
    # A column added since the move (catalog 0003): the cases written here are all authored.
    moved["catalog_testcase"] = _edit(
        moved["catalog_testcase"], lambda row: {**row, "origin": "authored"}
    )
    moved["executions_execution"] = _manual_runs_keep_their_wait(
        moved["executions_execution"], moved["catalog_testcase"]
    )
    # And catalog 0004: every project's failures count towards the alert, as they did.
    moved["catalog_project"] = _edit(
        moved["catalog_project"], lambda row: {**row, "failure_alerts": True}
    )
    return moved


def _without_later_additions(snapshot: dict) -> dict:
    kept = {}
    for table, rows in snapshot.items():
        if table in ADDED_SINCE_THE_MOVE and ADDED_SINCE_THE_MOVE[table] is None:
            continue
        columns = ADDED_SINCE_THE_MOVE.get(table) or set()
        kept[table] = [tuple(item for item in row if item[0] not in columns) for row in rows]
    return kept


def _assert_same(actual: dict, expected: dict) -> None:
    assert sorted(actual) == sorted(expected)
    for table, rows in expected.items():
        assert actual[table] == rows, table


def _schema_names(schema: str | None = None) -> set[tuple[str, str]]:
    """(table, name) of the indexes, constraints and owned sequences of the moved tables (under
    either name) and of the foreign keys pointing at them: the names PostgreSQL or Django derive
    from a table's name. The current schema unless `schema` is given."""
    tables = [*RENAMED_TABLES, *RENAMED_TABLES.values()]
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT t.relname, i.relname FROM pg_index x
              JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
              JOIN pg_namespace n ON n.oid = t.relnamespace
             WHERE n.nspname = COALESCE(%(schema)s, current_schema()) AND t.relname = ANY(%(tables)s)
            UNION
            SELECT t.relname, c.conname FROM pg_constraint c
              JOIN pg_class t ON t.oid = c.conrelid LEFT JOIN pg_class f ON f.oid = c.confrelid
              JOIN pg_namespace n ON n.oid = t.relnamespace
             WHERE n.nspname = COALESCE(%(schema)s, current_schema())
               AND (t.relname = ANY(%(tables)s) OR f.relname = ANY(%(tables)s))
            UNION
            SELECT t.relname, s.relname FROM pg_class s
              JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = s.oid
              JOIN pg_class t ON t.oid = d.refobjid JOIN pg_namespace n ON n.oid = t.relnamespace
             WHERE s.relkind = 'S' AND d.deptype IN ('a', 'i')
               AND n.nspname = COALESCE(%(schema)s, current_schema()) AND t.relname = ANY(%(tables)s)
            """,
            {"schema": schema, "tables": tables},
        )
        return set(cursor.fetchall())


def _schema_names_of_fresh_tables(apps) -> set[tuple[str, str]]:
    """_schema_names of tables created from scratch for `apps` in a schema of their own (rolled
    back): what Django and PostgreSQL name things today."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("CREATE SCHEMA fresh_tables")
            cursor.execute("SET LOCAL search_path TO fresh_tables")
        with connection.schema_editor() as editor:
            for model in apps.get_models():
                if model._meta.managed and not model._meta.proxy:
                    editor.create_model(model)
        names = _schema_names("fresh_tables")
        transaction.set_rollback(True)
    return names


def _schema() -> set[tuple]:
    """What a round trip must give back besides the rows: on PostgreSQL the derived names, on
    SQLite every index and table with its SQL."""
    if connection.vendor == "postgresql":
        return _schema_names()
    with connection.cursor() as cursor:
        cursor.execute("SELECT type, name, tbl_name, sql FROM sqlite_master")
        return set(cursor.fetchall())


def _assert_relations_read_back(ids: dict) -> None:
    project = Project.objects.get(pk=ids["project"])
    assert dict(project.memberships.values_list("user__username", "role")) == {
        "mig-owner": "maintainer",
        "mig-tester": "tester",
    }
    assert {c.pk: (c.project_id, c.type) for c in TestCase.objects.all()} == {
        ids["generic"]: (project.pk, "generic"),
        ids["manual"]: (project.pk, "manual"),
        ids["bdd"]: (project.pk, "bdd"),
    }
    suite = project.test_suites.get()
    assert list(suite.items.values_list("case_id", flat=True)) == [ids["generic"], ids["bdd"]]
    rerun = Execution.objects.get(pk=ids["rerun"])
    assert rerun.test_case_id == ids["generic"]
    assert Attempt.objects.get(pk=ids["first"]).trace.pk == ids["inline"]
    assert Attempt.objects.get(pk=ids["second"]).trace.pk == ids["rows"]
    rows = Trace.objects.get(pk=ids["rows"])
    assert list(rows.records.values_list("order", flat=True)) == [0, 1, 2]
    assert trace_steps(trace_of(rerun, 1)) == INLINE_STEPS
    assert trace_steps(trace_of(rerun)) == ROW_STEPS
    assert rerun.case_results.get().case.project_id == project.pk
    assert suite.hook.suite_id == suite.pk
    assert project.schedules.get().q_schedule.func == "engine.tasks.run_schedule"


def _assert_permissions_and_history_follow(ids: dict) -> None:
    group = Group.objects.get(pk=ids["group"])
    assert [(p.content_type.app_label, p.codename) for p in group.permissions.all()] == [
        ("catalog", "change_testcase")
    ]
    assert User.objects.get(pk=ids["tester"]).has_perm("catalog.change_testcase")
    entry = LogEntry.objects.get()
    assert (entry.content_type.app_label, entry.content_type.model) == ("catalog", "testcase")
    assert entry.get_edited_object() == TestCase.objects.get(pk=ids["generic"])


def _assert_new_rows_come_after_the_old(ids: dict) -> None:
    # The id sequences (PostgreSQL) and sqlite_sequence entries went with the renamed tables.
    project = Project.objects.create(name="After", slug="after")
    case = TestCase.objects.create(project=project, key="new", name="New")
    attempt = Attempt.objects.get(pk=ids["manual_attempt"])
    trace = trace_record_step(attempt, {"order": 0, "status": "passed"})
    assert project.pk > ids["project"] and case.pk > ids["bdd"] and trace.pk > ids["rows"]


# --- the tests ---------------------------------------------------------------------------------


def test_the_move_keeps_every_row_and_every_relation(before_move):
    ids = _write_old_data(before_move)
    before = _snapshot()
    assert {table: len(before[table]) for table in WRITTEN} == WRITTEN

    _migrate(_leaves())

    after = _without_later_additions(_snapshot())
    assert {table: len(after[RENAMED_TABLES.get(table, table)]) for table in WRITTEN} == WRITTEN
    _assert_same(after, _moved(before))
    _assert_relations_read_back(ids)
    _assert_permissions_and_history_follow(ids)
    _assert_new_rows_come_after_the_old(ids)


# Three migration runs back and forth on purpose: minutes of CPU on a loaded machine.
@pytest.mark.timeout(900)
def test_the_move_can_be_undone_and_done_again(before_move):
    _write_old_data(before_move)
    before, before_schema = _snapshot(), _schema()
    if connection.vendor == "postgresql":
        # Undone, the tables carry the names the migrations before the move gave them.
        assert before_schema == _schema_names_of_fresh_tables(before_move)
    _migrate(_leaves())
    after, after_schema = _snapshot(), _schema()

    _migrate(_before_move())
    before["executions_execution"] = _manual_runs_keep_their_wait(
        before["executions_execution"], before["executions_testcase"]
    )
    _assert_same(_snapshot(), before)
    assert _schema() == before_schema

    _migrate(_leaves())
    _assert_same(_snapshot(), after)
    assert _schema() == after_schema


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's names")
@pytest.mark.django_db
def test_moved_tables_carry_the_names_tables_created_today_would():
    # The test database went through the move: its tables were created under the old names.
    assert _schema_names() == _schema_names_of_fresh_tables(current_apps)
