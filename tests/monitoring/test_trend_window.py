"""The overview's pass-rate trend reads a window of time through the index on finished_at: the
window starts at local midnight of its first day, and a run just before it does not count."""

from datetime import datetime, time, timedelta

import pytest
from django.utils import timezone

from dashboard import selectors
from executions.models import Execution
from tests.monitoring.conftest import finish

pytestmark = pytest.mark.django_db


def test_the_trend_counts_from_local_midnight_of_its_first_day(case, project):
    first = timezone.localdate() - timedelta(days=13)
    start = timezone.make_aware(datetime.combine(first, time.min))
    inside, before = finish(case), finish(case, outcome="failed")
    Execution.objects.filter(pk=inside.pk).update(finished_at=start + timedelta(seconds=1))
    Execution.objects.filter(pk=before.pk).update(finished_at=start - timedelta(seconds=1))

    trend = selectors.pass_rate_trend([project.pk], days=14)

    assert trend[0]["day"] == first
    assert (trend[0]["total"], trend[0]["passed"]) == (1, 1)
    assert sum(day["total"] for day in trend) == 1


def test_finished_days_are_read_once_and_today_on_every_call(case, project):
    yesterday = timezone.now() - timedelta(days=1)
    old = finish(case)
    Execution.objects.filter(pk=old.pk).update(finished_at=yesterday)
    selectors.pass_rate_trend([project.pk])

    finish(case, outcome="failed")  # today: counted at once
    later = finish(case)
    Execution.objects.filter(pk=later.pk).update(finished_at=yesterday)  # a finished day: cached
    trend = selectors.pass_rate_trend([project.pk])

    assert (trend[-1]["total"], trend[-1]["passed"]) == (1, 0)
    assert (trend[-2]["total"], trend[-2]["passed"]) == (1, 1)
