"""Saving an execution: every change of state is saved by the ritual
(executions.services.transitions.transition), which names the columns to write. A column a change
sets but does not name would stay behind in the database; these tests compare what each service
holds in memory with the row it left."""

from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from executions.models import Execution, ExecutionStatus, QueueState
from executions.services import claim as claiming
from executions.services import lifecycle, people, reaper, worker_writes
from executions.services.transitions import AUTO_NOW, auto_now_fields, transition
from tests.factories import TestCaseFactory, execution_for

S = ExecutionStatus
pytestmark = pytest.mark.django_db


@pytest.fixture
def execution(project):
    return Execution.objects.get(pk=execution_for(TestCaseFactory(project=project)).pk)


def updates(queries) -> list[str]:
    table = Execution._meta.db_table
    return [q["sql"] for q in queries if q["sql"].startswith(f'UPDATE "{table}"')]


def unsaved(execution: Execution) -> dict:
    """The columns whose value in memory differs from the row's: what a save left behind."""
    row = Execution.objects.get(pk=execution.pk)
    return {
        field.attname: (getattr(execution, field.attname), getattr(row, field.attname))
        for field in Execution._meta.concrete_fields
        if getattr(execution, field.attname) != getattr(row, field.attname)
    }


def cancel_now(execution: Execution) -> None:
    with transaction.atomic():
        locked = lifecycle.locked(execution.pk)
        transition(
            locked,
            locked.cancel,
            {"reason": "looked at", "now": timezone.now()},
            reason="looked at",
            close_attempt=S.CANCELLED,
        )


def test_a_change_writes_only_the_columns_it_names(execution):
    with CaptureQueriesContext(connection) as queries:
        cancel_now(execution)

    [sql] = updates(queries)
    for column in ("status", "status_reason", "finished_at", "event_seq", "rolled_up"):
        assert f'"{column}" =' in sql
    assert '"parameters"' not in sql and '"priority"' not in sql and '"labels"' not in sql
    assert Execution.objects.get(pk=execution.pk).status_reason == "looked at"


def test_every_auto_now_column_goes_out_with_each_change(execution):
    with CaptureQueriesContext(connection) as queries:
        cancel_now(execution)

    [sql] = updates(queries)
    assert all(f'"{Execution._meta.get_field(name).column}" =' in sql for name in AUTO_NOW)


def test_auto_now_columns_are_found_on_a_model_that_has_one():
    # QueueState.changed_at is auto_now: the ritual finds such columns the same way on Execution.
    assert auto_now_fields(QueueState) == ("changed_at",)
    assert auto_now_fields(Execution) == AUTO_NOW


def test_a_change_made_inside_a_json_value_is_saved_when_named(execution):
    with transaction.atomic():
        locked = lifecycle.locked(execution.pk)
        locked.summary["steps_total"] = 7
        transition(
            locked,
            locked.cancel,
            {"reason": "", "now": timezone.now()},
            fields=("summary",),
        )

    assert Execution.objects.get(pk=execution.pk).summary["steps_total"] == 7


def test_explicit_update_fields_are_honoured(execution):
    execution.status_reason = "not this"
    execution.worker = "only this"

    execution.save(update_fields=["worker"])

    row = Execution.objects.get(pk=execution.pk)
    assert (row.worker, row.status_reason) == ("only this", "")


# --- every service leaves the row as it holds the execution ----------------------------------


def claimed(case, **options) -> Execution:
    execution = execution_for(case, **options)
    taken = claiming.execution_claim_next(worker="w")
    assert taken.pk == execution.pk
    return taken


def awaiting(project) -> Execution:
    manual = TestCaseFactory(
        project=project, type="manual", steps=[{"instruction": "look", "expected": "seen"}]
    )
    return worker_writes.execution_await_input(claimed(manual).pk, worker="w", attempt=1)


def cancelling(case) -> Execution:
    return people.execution_cancel(claimed(case).pk)


def create(case, project, settings):
    return execution_for(case)


def create_pending(case, project, settings):
    return execution_for(case, not_before=timezone.now() + timedelta(hours=1))


def claim(case, project, settings):
    execution_for(case)
    return claiming.execution_claim_next(worker="w")


def await_input(case, project, settings):
    return awaiting(project)


def complete(case, project, settings):
    pk = claimed(case).pk
    return worker_writes.execution_complete(pk, outcome=S.PASSED, worker="w", attempt=1)


def complete_with_a_retry_left(case, project, settings):
    pk = claimed(case, max_retries=1).pk
    return worker_writes.execution_complete(pk, outcome=S.FAILED, worker="w", attempt=1)


def complete_after_a_cancel_request(case, project, settings):
    pk = cancelling(case).pk
    return worker_writes.execution_complete(pk, outcome=S.PASSED, worker="w", attempt=1)


def cancel_queued(case, project, settings):
    return people.execution_cancel(execution_for(case).pk)


def cancel_running(case, project, settings):
    return cancelling(case)


def cancel_awaiting_input(case, project, settings):
    return people.execution_cancel(awaiting(project).pk)


def confirm_cancel(case, project, settings):
    pk = cancelling(case).pk
    return worker_writes.execution_confirm_cancel(pk, worker="w", attempt=1)


def time_out_by_its_worker(case, project, settings):
    pk = claimed(case).pk
    return reaper.execution_time_out(pk, reason="too slow", worker="w", attempt=1)


def time_out_by_the_reaper(case, project, settings):
    execution = claimed(case)
    later = execution.deadline_at + timedelta(seconds=settings.IB_LEASE_SECONDS + 1)
    return reaper.execution_time_out(execution.pk, reason="overdue", now=later)


def recover_a_lost_worker(case, project, settings):
    pk = claimed(case).pk
    later = timezone.now() + timedelta(seconds=settings.IB_LEASE_SECONDS + 1)
    return reaper.execution_recover_lost(pk, now=later)


def recover_a_cancelling_run(case, project, settings):
    pk = cancelling(case).pk
    later = timezone.now() + timedelta(seconds=settings.IB_LEASE_SECONDS + 1)
    return reaper.execution_recover_lost(pk, now=later)


def rerun(case, project, settings):
    return people.execution_rerun(people.execution_cancel(execution_for(case).pk).pk)


def release(case, project, settings):
    execution = execution_for(case, not_before=timezone.now() + timedelta(seconds=60))
    Execution.objects.filter(pk=execution.pk).update(not_before=timezone.now())
    return reaper.execution_release_due(execution.pk)


SCENARIOS = [
    create,
    create_pending,
    claim,
    await_input,
    complete,
    complete_with_a_retry_left,
    complete_after_a_cancel_request,
    cancel_queued,
    cancel_running,
    cancel_awaiting_input,
    confirm_cancel,
    time_out_by_its_worker,
    time_out_by_the_reaper,
    recover_a_lost_worker,
    recover_a_cancelling_run,
    rerun,
    release,
]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda scenario: scenario.__name__)
def test_every_column_a_service_changes_is_saved(scenario, case, project, settings):
    execution = scenario(case, project, settings)

    assert execution is not None
    assert unsaved(execution) == {}


def test_every_column_a_suite_run_changes_is_saved(project, make_suite, failing_case):
    parent = execution_for(suite=make_suite(TestCaseFactory(project=project), failing_case))
    assert unsaved(parent) == {}  # fanned out: running, with its summary

    cancelled = people.execution_cancel(parent.pk)  # rolls up once its children are cancelled
    assert cancelled.status == S.CANCELLED and unsaved(cancelled) == {}

    rerun = people.execution_rerun(parent.pk)
    assert rerun.status == S.RUNNING and unsaved(rerun) == {}


def test_a_suite_rollup_saves_its_summary_and_result(project, make_suite):
    parent = execution_for(suite=make_suite(TestCaseFactory(project=project)))
    child = claiming.execution_claim_next(worker="w")

    worker_writes.execution_complete(child.pk, outcome=S.PASSED, worker="w", attempt=1)

    parent.refresh_from_db()
    assert (parent.status, parent.rolled_up, parent.finished_at is not None) == (
        S.PASSED,
        True,
        True,
    )
    assert parent.summary["counts"] == {S.PASSED: 1}
    assert parent.events.last().actor_label == "suite rollup"


def test_saving_an_execution_in_the_admin_writes_nothing(admin_client, execution):
    # Every field is read-only there: a whole-row save would put back what this request read.
    url = f"/admin/executions/execution/{execution.pk}/change/"
    form = {"_save": "Save"}
    for inline in admin_client.get(url).context["inline_admin_formsets"]:
        management = inline.formset.management_form
        form |= {management.add_prefix(name): value for name, value in management.initial.items()}

    with CaptureQueriesContext(connection) as queries:
        response = admin_client.post(url, form)

    assert response.status_code == 302
    assert updates(queries) == []
