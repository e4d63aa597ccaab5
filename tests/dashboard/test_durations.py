"""Finding 3 of issue 15: a re-run reuses the execution, and its duration was timed from the first
attempt's start to the last one's finish ("3 min 34 s" for two attempts of under a second).
Durations are per attempt: the execution's is its latest attempt's, on the page, in the API and
for suite children; the total of all attempts is shown only where it is labelled so."""

from datetime import timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import Client

from executions.models import Attempt, Execution
from executions.services import people
from tests.dashboard.conftest import run_all
from tests.factories import execution_for

pytestmark = pytest.mark.django_db(transaction=True)
AN_HOUR = timedelta(hours=1)


def ran_an_hour_ago(execution: Execution) -> None:
    """Move the execution's finished first attempt an hour back: the gap a re-run comes after."""
    execution.refresh_from_db()
    attempt = execution.attempts.get(number=1)
    Attempt.objects.filter(pk=attempt.pk).update(
        started_at=attempt.started_at - AN_HOUR, finished_at=attempt.finished_at - AN_HOUR
    )
    Execution.objects.filter(pk=execution.pk).update(
        started_at=execution.started_at - AN_HOUR, finished_at=execution.finished_at - AN_HOUR
    )


def rerun(execution: Execution) -> Execution:
    people.execution_rerun(execution.pk)
    run_all()
    execution.refresh_from_db()
    return execution


def test_a_rerun_is_timed_from_its_own_start(case):
    execution = execution_for(case)
    run_all()
    ran_an_hour_ago(execution)

    execution = rerun(execution)

    latest = execution.attempts.get(number=2)
    assert execution.attempt_count == 2
    assert execution.started_at == latest.started_at
    assert (execution.finished_at - execution.started_at) < timedelta(minutes=1)


def test_the_api_gives_the_latest_attempt_and_the_labelled_total(member_api, case):
    execution = execution_for(case)
    run_all()
    ran_an_hour_ago(execution)
    execution = rerun(execution)

    detail = member_api.get(f"/api/v1/executions/{execution.pk}/").json()
    listed = member_api.get("/api/v1/executions/").json()["results"][0]

    attempts = {a["number"]: a["duration_seconds"] for a in detail["attempts"]}
    assert detail["duration_seconds"] == pytest.approx(attempts[2], abs=0.002)
    assert listed["duration_seconds"] == detail["duration_seconds"]
    assert detail["duration_seconds"] < 60
    assert detail["attempts_duration_seconds"] == pytest.approx(
        attempts[1] + attempts[2], abs=0.002
    )


def test_the_page_shows_the_latest_attempt_and_labels_the_total(member, case):
    execution = execution_for(case)
    run_all()
    ran_an_hour_ago(execution)
    execution = rerun(execution)
    client = Client()
    client.force_login(member)

    html = client.get(f"/executions/{execution.pk}/").content.decode()

    duration = html.split('data-role="duration">')[1].split("<")[0]
    assert duration.endswith(" s") and "min" not in duration and " h " not in duration
    assert "attempt 2" in html
    assert 'data-role="attempts-total"' in html
    assert "in total, 2 attempts" in html


def test_suite_children_keep_their_own_times_after_a_suite_rerun(make_suite, case, failing_case):
    parent = execution_for(suite=make_suite(case, failing_case))
    run_all()
    for execution in [parent, *parent.children.all()]:
        ran_an_hour_ago(execution)

    parent = rerun(parent)

    for child in parent.children.all():
        assert (child.finished_at - child.started_at) < timedelta(minutes=1)
    assert (parent.finished_at - parent.started_at) < timedelta(minutes=1)


def executions_at(migration: str):
    """The Execution model as of `migration` (the current one has columns added since)."""
    state = MigrationExecutor(connection).loader.project_state(("executions", migration))
    return state.apps.get_model("executions", "Execution")


@pytest.fixture
def back_to_latest():
    """Migration tests move the executions app back and forth; the next test finds it whole."""
    yield
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


def test_the_migration_gives_rerun_executions_their_latest_attempts_start(case, back_to_latest):
    """executions 0014 on rows written under the old rule (started_at of the first attempt)."""
    execution = execution_for(case)
    run_all()
    ran_an_hour_ago(execution)
    execution = rerun(execution)
    first = execution.attempts.get(number=1).started_at
    latest = execution.attempts.get(number=2).started_at
    once = execution_for(case)
    run_all()
    once.refresh_from_db()
    executor = MigrationExecutor(connection)
    executor.migrate([("executions", "0013_rename_trace_tables")])
    old = executions_at("0013_rename_trace_tables")
    old.objects.filter(pk=execution.pk).update(started_at=first)  # as the old code left it

    MigrationExecutor(connection).migrate(
        [("executions", "0014_execution_started_at_latest_attempt")]
    )

    after = executions_at("0014_execution_started_at_latest_attempt")
    assert after.objects.get(pk=execution.pk).started_at == latest
    assert after.objects.get(pk=once.pk).started_at == once.started_at


def test_a_run_is_queued_when_it_is_created(make_suite, case):
    """Issue 15, "also found": queued_at was earlier than created_at on every execution."""
    single = execution_for(case)
    parent = execution_for(suite=make_suite(case))

    for execution in [single, parent, *parent.children.all()]:
        execution.refresh_from_db()
        assert execution.queued_at == execution.created_at


def test_the_migration_queues_old_rows_when_they_were_created(case, back_to_latest):
    execution = execution_for(case)
    MigrationExecutor(connection).migrate(
        [("executions", "0014_execution_started_at_latest_attempt")]
    )
    earlier = execution.created_at - timedelta(microseconds=250)
    old = executions_at("0014_execution_started_at_latest_attempt")
    old.objects.filter(pk=execution.pk).update(queued_at=earlier)  # as auto_now_add left it

    MigrationExecutor(connection).migrate(
        [("executions", "0015_execution_created_at_is_the_queue_time")]
    )

    after = executions_at("0015_execution_created_at_is_the_queue_time").objects.get(
        pk=execution.pk
    )
    assert after.queued_at == after.created_at
