"""Retention: traces and events of finished executions past the project's retention_days."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_q.models import Schedule

from executions.models import Execution, ExecutionEvent, StepRecord, Trace
from results.apps import SCHEDULES, ensure_schedules
from results.models import CaseResult
from results.retention import prune_results
from tests.factories import TestCaseFactory, execution_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def old_and_new(project, finish, settings):
    settings.IB_TRACE_INLINE_MAX_STEPS = 1  # traces in rows: the step rows go too
    project.retention_days = 30
    project.save()
    old = finish(TestCaseFactory(project=project), ["passed"])
    new = finish(TestCaseFactory(project=project), ["passed"])
    Execution.objects.filter(pk=old.pk).update(finished_at=timezone.now() - timedelta(days=31))
    return old, new


def test_old_finished_executions_lose_traces_and_events_but_keep_results(old_and_new):
    old, new = old_and_new

    counts = prune_results()

    assert not Trace.objects.filter(execution=old).exists()
    assert not ExecutionEvent.objects.filter(execution=old).exists()
    assert Trace.objects.filter(execution=new).exists()
    assert ExecutionEvent.objects.filter(execution=new).exists()
    assert StepRecord.objects.count() == 1
    assert CaseResult.objects.count() == 2  # history and statistics stay
    assert Execution.objects.filter(pk=old.pk).exists()
    (project_counts,) = counts.values()
    assert project_counts["traces"] == 1 and project_counts["steps"] == 1
    assert project_counts["events"] > 0


def test_active_executions_are_never_pruned(project):
    project.retention_days = 0
    project.save()
    execution = execution_for(TestCaseFactory(project=project))

    prune_results(now=timezone.now() + timedelta(days=365))

    assert ExecutionEvent.objects.filter(execution=execution).exists()


def test_each_project_keeps_its_own_retention(old_and_new, project):
    project.retention_days = 60
    project.save()

    prune_results()

    assert Trace.objects.count() == 2


def test_prune_command_dry_run_deletes_nothing(old_and_new, capsys):
    call_command("prune_results", "--dry-run")

    assert "would delete 1 traces (1 step rows)" in capsys.readouterr().out
    assert Trace.objects.count() == 2


def test_prune_command(old_and_new, capsys, project):
    call_command("prune_results", "--project", project.slug)

    assert "deleted 1 traces" in capsys.readouterr().out
    assert Trace.objects.count() == 1


def test_schedules_exist_after_migrate_and_are_kept_once():
    ensure_schedules()
    ensure_schedules()

    for name, (func, schedule_type, _) in SCHEDULES.items():
        schedule = Schedule.objects.get(name=name)
        assert (schedule.func, schedule.schedule_type) == (func, schedule_type)
