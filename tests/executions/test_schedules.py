"""Recurring runs: the cron schedule, its django-q2 twin, firing, and the API."""

import pytest
from django_q.models import Schedule

from engine.tasks import run_schedule
from executions.models import Execution, RunSchedule, Trigger
from executions.services import schedules
from executions.services.schedules import InvalidSchedule

pytestmark = pytest.mark.django_db


def make(case, **fields):
    values = {"name": "nightly", "cron": "0 2 * * *", **fields}
    return schedules.schedule_save(RunSchedule(project=case.project, test_case=case, **values))


def test_saving_creates_a_cron_schedule_in_django_q(case):
    schedule = make(case)

    q = Schedule.objects.get(pk=schedule.q_schedule_id)
    assert q.schedule_type == Schedule.CRON
    assert q.cron == "0 2 * * *"
    assert q.func == "engine.tasks.run_schedule"
    assert q.next_run.hour == 2 and q.next_run.minute == 0


def test_invalid_cron_is_refused_and_nothing_is_saved(case):
    with pytest.raises(InvalidSchedule, match="cron"):
        make(case, cron="every night")
    assert not RunSchedule.objects.exists()
    assert not Schedule.objects.filter(func="engine.tasks.run_schedule").exists()


def test_disabling_removes_the_django_q_schedule(case):
    schedule = make(case)
    schedule.enabled = False

    schedules.schedule_save(schedule)

    assert schedule.q_schedule is None
    assert not Schedule.objects.filter(func="engine.tasks.run_schedule").exists()


def test_a_tick_starts_a_scheduled_run_with_its_labels(case):
    schedule = make(case, labels={"kind": "nightly"})

    execution_id = run_schedule(schedule.pk)

    execution = Execution.objects.get(pk=execution_id)
    assert execution.trigger == Trigger.SCHEDULE
    assert execution.labels == {"kind": "nightly", "schedule": "nightly"}
    schedule.refresh_from_db()
    assert schedule.last_run_at is not None


def test_a_tick_of_a_disabled_schedule_does_nothing(case):
    schedule = make(case, enabled=False)
    assert run_schedule(schedule.pk) is None
    assert not Execution.objects.exists()


def test_deleting_removes_both(case):
    schedule = make(case)
    schedules.schedule_delete(schedule)
    assert not RunSchedule.objects.exists()
    assert not Schedule.objects.filter(func="engine.tasks.run_schedule").exists()


def test_maintainer_creates_schedule_over_api(owner_api, case):
    response = owner_api.post(
        "/api/v1/schedules/",
        {"project": case.project_id, "name": "hourly", "test_case": case.pk, "cron": "0 * * * *"},
        format="json",
    )
    assert response.status_code == 201, response.data
    assert response.data["next_run"] is not None


def test_bad_cron_over_api_is_400(owner_api, case):
    response = owner_api.post(
        "/api/v1/schedules/",
        {"project": case.project_id, "name": "x", "test_case": case.pk, "cron": "61 * * * *"},
        format="json",
    )
    assert response.status_code == 400
    assert "cron" in response.data["message"]


def test_tester_cannot_create_but_can_run_now(member_api, case):
    schedule = make(case)
    denied = member_api.post(
        "/api/v1/schedules/",
        {"project": case.project_id, "name": "y", "test_case": case.pk, "cron": "0 * * * *"},
        format="json",
    )
    assert denied.status_code == 403

    response = member_api.post(f"/api/v1/schedules/{schedule.pk}/run-now/")

    assert response.status_code == 201
    assert Execution.objects.get().trigger == Trigger.SCHEDULE


def test_stranger_cannot_see_schedules(stranger_api, case):
    schedule = make(case)
    assert stranger_api.get(f"/api/v1/schedules/{schedule.pk}/").status_code == 404
    assert stranger_api.get("/api/v1/schedules/").data["count"] == 0
