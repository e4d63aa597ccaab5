"""`Execution.started_at` is now the start of the latest attempt (it was the first attempt's, so
a re-run's duration ran from the first start to the last finish). Executions that have run more
than once take the start of their latest attempt that has started; others are already right."""

from django.db import migrations
from django.db.models import OuterRef, Subquery
from django.db.models.functions import Coalesce


def latest_attempt_start(apps, schema_editor):
    execution = apps.get_model("executions", "Execution")
    attempt = apps.get_model("executions", "Attempt")
    latest_start = (
        attempt.objects.filter(execution=OuterRef("pk"), started_at__isnull=False)
        .order_by("-number")
        .values("started_at")[:1]
    )
    execution.objects.filter(attempt_count__gt=1).update(
        started_at=Coalesce(Subquery(latest_start), "started_at")
    )


class Migration(migrations.Migration):
    dependencies = [("executions", "0013_rename_trace_tables")]

    operations = [migrations.RunPython(latest_attempt_start, migrations.RunPython.noop)]
