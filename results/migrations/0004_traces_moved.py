"""Step traces moved to the executions app (executions 0012): they leave this app's state. No
table changes here."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("executions", "0012_traces_moved"),
        ("results", "0003_catalog_moved"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveField(
                    model_name="trace",
                    name="attempt",
                ),
                migrations.RemoveField(
                    model_name="trace",
                    name="execution",
                ),
                migrations.DeleteModel(
                    name="StepRecord",
                ),
                migrations.DeleteModel(
                    name="Trace",
                ),
            ],
            database_operations=[],
        ),
    ]
