"""executions 0018: manual runs stored before it (with the worker's 30-minute default) keep the
days-long wait they had, now that a manual run waits its own timeout_seconds; other runs keep
theirs."""

import pytest
from django.conf import settings
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from executions.models import Execution

pytestmark = pytest.mark.django_db(transaction=True)
BEFORE = [("executions", "0017_reported_runs"), ("catalog", "0004_project_failure_alerts")]
AFTER = [("executions", "0018_manual_runs_keep_their_wait")]


def test_manual_runs_made_before_keep_their_wait_and_others_their_timeout():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    apps = executor.loader.project_state(BEFORE).apps
    project = apps.get_model("catalog", "Project").objects.create(name="P", slug="p")
    TestCase = apps.get_model("catalog", "TestCase")
    Execution_ = apps.get_model("executions", "Execution")
    manual = TestCase.objects.create(project=project, key="m", name="m", type="manual")
    generic = TestCase.objects.create(project=project, key="g", name="g", type="generic")
    waiting = Execution_.objects.create(
        project=project, test_case=manual, status="queued", timeout_seconds=1800
    )
    worker_run = Execution_.objects.create(
        project=project, test_case=generic, status="queued", timeout_seconds=1800
    )

    MigrationExecutor(connection).migrate(AFTER)
    MigrationExecutor(connection).migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())

    assert Execution.objects.get(pk=waiting.pk).timeout_seconds == (
        settings.IB_MANUAL_TIMEOUT_SECONDS
    )
    assert Execution.objects.get(pk=worker_run.pk).timeout_seconds == 1800
