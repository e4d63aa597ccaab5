"""results 0005: cases the command action created under keys the catalog refuses are renamed to
the one case_key, or merged into the case an upload already made under it.

Each test migrates results back to 0004, writes rows with the models as they were there (the
command action's old keys included, which bulk_create let through), migrates forward again and
looks at what the migration made of them."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from catalog.models import TestCase
from results.junit import case_key
from results.models import CaseResult, CaseStats

pytestmark = pytest.mark.django_db(transaction=True)
BEFORE = [("results", "0004_traces_moved")]
AFTER = [("results", "0005_reported_case_keys")]
OLD = "tests.test_api.test_create[priority=high]"  # what the command action stored
NEW = case_key("tests.test_api", "test_create[priority=high]")  # what an upload stores
T0 = datetime(2025, 1, 1, tzinfo=UTC)


@pytest.fixture
def old_apps():
    """The app registry just before results 0005 (its dependencies: the other apps' tables as
    renamed by then), with the database migrated back to it; migrate() takes the test's rows
    forward."""
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    parents = executor.loader.graph.node_map[AFTER[0]].parents
    return executor.loader.project_state([parent.key for parent in parents]).apps


def migrate():
    executor = MigrationExecutor(connection)  # a fresh loader sees what is applied now
    executor.migrate(AFTER)
    # And the migrations that came after it (catalog 0003 adds a column today's models read).
    MigrationExecutor(connection).migrate(executor.loader.graph.leaf_nodes())


class Rows:
    """Rows written with the historical models of `apps`."""

    def __init__(self, apps):
        self.apps = apps
        self.project = self.model("catalog.Project").objects.create(name="P", slug="p")

    def model(self, label):
        return self.apps.get_model(label)

    def case(self, key, project=None):
        return self.model("catalog.TestCase").objects.create(
            project=project or self.project, key=key, name=key[-255:]
        )

    def result(self, case, outcome, at):
        batch = self.model("results.ImportBatch").objects.create(
            project=self.project, idempotency_key=f"{case.pk}-{at}"
        )
        return self.model("results.CaseResult").objects.create(
            project=self.project, case=case, batch=batch, outcome=outcome, created_at=at
        )

    def stats(self, case, outcomes, start, revision=""):
        recent = [
            {"o": o, "ms": 5, "rev": revision, "r": 0, "at": (start + timedelta(i)).isoformat()}
            for i, o in enumerate(outcomes)
        ]
        return self.model("results.CaseStats").objects.create(
            case=case,
            project=self.project,
            runs=len(outcomes),
            passed=outcomes.count("passed"),
            failed=outcomes.count("failed"),
            last_outcome=outcomes[-1],
            last_run_at=start + timedelta(len(outcomes) - 1),
            recent=recent,
        )


def test_a_refused_key_with_no_case_under_the_new_key_is_renamed(old_apps):
    rows = Rows(old_apps)
    old = rows.case(OLD)
    valid = rows.case("tests.test_api.test_ok")
    uploaded = rows.case(case_key("tests.test_api", "test_y[a=1]"))

    migrate()

    renamed = TestCase.objects.get(pk=old.pk)
    assert renamed.key == NEW
    renamed.full_clean()
    assert TestCase.objects.get(pk=valid.pk).key == "tests.test_api.test_ok"
    assert TestCase.objects.get(pk=uploaded.pk).key == uploaded.key


def test_a_refused_key_is_merged_into_the_case_the_upload_made(old_apps):
    rows = Rows(old_apps)
    old, kept = rows.case(OLD), rows.case(NEW)
    rows.result(old, "passed", T0)
    rows.result(kept, "failed", T0 + timedelta(1))
    rows.stats(old, ["passed", "passed"], T0, revision="r1")
    rows.stats(kept, ["failed"], T0 + timedelta(5), revision="r1")
    rows.model("results.CaseEvent").objects.create(project=rows.project, case=old, kind="flaky")

    migrate()

    assert not TestCase.objects.filter(pk=old.pk).exists()
    assert TestCase.objects.get(pk=kept.pk).key == NEW
    assert sorted(CaseResult.objects.filter(case_id=kept.pk).values_list("outcome", flat=True)) == [
        "failed",
        "passed",
    ]
    stats = CaseStats.objects.get(case_id=kept.pk)
    assert (stats.runs, stats.passed, stats.failed) == (3, 2, 1)
    assert [e["o"] for e in stats.recent] == ["passed", "passed", "failed"]
    assert (stats.last_outcome, stats.last_run_at) == ("failed", T0 + timedelta(5))
    assert stats.is_flaky  # passed and failed on r1, which neither case saw alone
    assert not CaseStats.objects.filter(case_id=old.pk).exists()
    assert TestCase.objects.get(pk=kept.pk).health_events.count() == 1


def test_a_merged_case_hands_over_its_executions_schedules_and_suite_places(old_apps):
    rows = Rows(old_apps)
    old, kept = rows.case(OLD), rows.case(NEW)
    execution = rows.model("executions.Execution").objects.create(
        project=rows.project, test_case=old, timeout_seconds=60
    )
    schedule = rows.model("executions.RunSchedule").objects.create(
        project=rows.project, name="nightly", cron="0 3 * * *", test_case=old
    )
    suite_model, item_model = rows.model("catalog.TestSuite"), rows.model("catalog.SuiteItem")
    only_old = suite_model.objects.create(project=rows.project, name="only old")
    both = suite_model.objects.create(project=rows.project, name="both")
    moved = item_model.objects.create(suite=only_old, case=old, order=1)
    item_model.objects.create(suite=both, case=old, order=1)
    stays = item_model.objects.create(suite=both, case=kept, order=2)

    migrate()

    items = item_model.objects.order_by("pk")
    assert [(i.pk, i.suite_id, i.case_id) for i in items] == [
        (moved.pk, only_old.pk, kept.pk),
        (stays.pk, both.pk, kept.pk),
    ]
    assert rows.model("executions.Execution").objects.get(pk=execution.pk).test_case_id == kept.pk
    assert rows.model("executions.RunSchedule").objects.get(pk=schedule.pk).test_case_id == kept.pk
    assert not TestCase.objects.filter(pk=old.pk).exists()


def test_stats_move_whole_when_only_the_merged_case_had_them(old_apps):
    rows = Rows(old_apps)
    old, kept = rows.case(OLD), rows.case(NEW)
    rows.stats(old, ["passed", "failed"], T0)

    migrate()

    stats = CaseStats.objects.get(case_id=kept.pk)
    assert (stats.runs, stats.passed, stats.failed) == (2, 1, 1)


def test_each_project_is_migrated_on_its_own(old_apps):
    rows = Rows(old_apps)
    other = rows.model("catalog.Project").objects.create(name="Q", slug="q")
    mine, kept = rows.case(OLD), rows.case(NEW)
    theirs = rows.case(OLD, project=other)

    migrate()

    assert not TestCase.objects.filter(pk=mine.pk).exists()
    assert TestCase.objects.get(pk=kept.pk).key == NEW
    assert TestCase.objects.get(pk=theirs.pk).key == NEW


@pytest.mark.parametrize(
    ("classname", "name"),
    [
        ("test_params", "test_x[a/b]"),
        ("test_params", "test_größe"),
        ("", "test_bare[a=1]"),
        ("tests.test_api", "(unnamed)"),  # what the command action's reader called a nameless test
    ],
)
def test_the_new_key_is_the_one_an_upload_of_the_test_gets(old_apps, classname, name):
    rows = Rows(old_apps)
    old = rows.case(f"{classname}.{name}" if classname else name)

    migrate()

    case = TestCase.objects.get(pk=old.pk)
    assert case.key == case_key(classname, name)
    case.full_clean()
