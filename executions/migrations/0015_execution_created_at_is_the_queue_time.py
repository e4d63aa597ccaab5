"""An execution's `created_at` is given by the service that creates it, the same instant as its
first `queued_at` (auto_now_add took a later instant, so every run was queued before it was
created). Rows written before: their first queue time becomes their creation time."""

import django.utils.timezone
from django.db import migrations, models
from django.db.models import F


def queued_when_created(apps, schema_editor):
    execution = apps.get_model("executions", "Execution")
    execution.objects.filter(queued_at__lt=F("created_at")).update(queued_at=F("created_at"))


class Migration(migrations.Migration):
    dependencies = [("executions", "0014_execution_started_at_latest_attempt")]

    operations = [
        migrations.AlterField(
            model_name="execution",
            name="created_at",
            field=models.DateTimeField(default=django.utils.timezone.now, editable=False),
        ),
        migrations.RunPython(queued_when_created, migrations.RunPython.noop),
    ]
