"""Saving an execution writes only what changed (the engine saves each run several times)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from executions.models import Execution
from tests.factories import TestCaseFactory, execution_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def execution(project):
    return Execution.objects.get(pk=execution_for(TestCaseFactory(project=project)).pk)


def updates(queries) -> list[str]:
    return [q["sql"] for q in queries if q["sql"].startswith("UPDATE")]


def test_a_save_writes_only_the_changed_columns(execution):
    execution.status_reason = "looked at"

    with CaptureQueriesContext(connection) as queries:
        execution.save()

    [sql] = updates(queries)
    assert '"status_reason"' in sql
    assert '"parameters"' not in sql and '"priority"' not in sql
    assert Execution.objects.get(pk=execution.pk).status_reason == "looked at"


def test_a_change_made_inside_a_json_value_is_saved(execution):
    execution.summary["steps_done"] = 3

    execution.save()

    assert Execution.objects.get(pk=execution.pk).summary["steps_done"] == 3


def test_a_save_with_nothing_changed_writes_nothing(execution):
    with CaptureQueriesContext(connection) as queries:
        execution.save()

    assert updates(queries) == []


def test_a_second_save_writes_only_what_changed_since_the_first(execution):
    execution.status_reason = "first"
    execution.save()
    execution.worker = "w2"

    with CaptureQueriesContext(connection) as queries:
        execution.save()

    [sql] = updates(queries)
    assert '"worker"' in sql and '"status_reason"' not in sql


def test_a_partial_refresh_keeps_other_unsaved_changes(execution):
    execution.status_reason = "unsaved"
    Execution.objects.filter(pk=execution.pk).update(worker="elsewhere")

    execution.refresh_from_db(fields=["worker"])
    execution.save()

    row = Execution.objects.get(pk=execution.pk)
    assert (row.worker, row.status_reason) == ("elsewhere", "unsaved")


def test_explicit_update_fields_are_honoured(execution):
    execution.status_reason = "not this"
    execution.worker = "only this"

    execution.save(update_fields=["worker"])

    row = Execution.objects.get(pk=execution.pk)
    assert (row.worker, row.status_reason) == ("only this", "")
