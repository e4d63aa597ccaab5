"""Manual runs made before 0018 keep the wait they were made with.

Until then a manual run waited IB_MANUAL_TIMEOUT_SECONDS for people whatever its timeout_seconds
said, and every run was stored with the worker default (IB_DEFAULT_TIMEOUT_SECONDS, 30 minutes).
Now a manual run waits its own timeout_seconds (`run --timeout` means something for it), so
without this a re-run of an existing manual run, or one queued at the upgrade, would give its
testers 30 minutes instead of days."""

from django.conf import settings
from django.db import migrations


def keep_the_wait(apps, schema_editor):
    Execution = apps.get_model("executions", "Execution")
    Execution.objects.filter(test_case__type="manual").update(
        timeout_seconds=settings.IB_MANUAL_TIMEOUT_SECONDS
    )


class Migration(migrations.Migration):
    dependencies = [
        ("executions", "0017_reported_runs"),
        ("catalog", "0004_project_failure_alerts"),
    ]

    operations = [migrations.RunPython(keep_the_wait, migrations.RunPython.noop, elidable=True)]
