"""The catalog's models moved to the catalog app: this app's foreign keys follow, in state only
(the columns and constraints already point at the same tables)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0001_initial"),
        ("results", "0002_history_imports_hooks"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="caseevent",
                    name="case",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="health_events",
                        to="catalog.testcase",
                    ),
                ),
                migrations.AlterField(
                    model_name="caseevent",
                    name="project",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="catalog.project",
                    ),
                ),
                migrations.AlterField(
                    model_name="caseresult",
                    name="case",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="results",
                        to="catalog.testcase",
                    ),
                ),
                migrations.AlterField(
                    model_name="caseresult",
                    name="project",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="catalog.project",
                    ),
                ),
                migrations.AlterField(
                    model_name="casestats",
                    name="case",
                    field=models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="stats",
                        serialize=False,
                        to="catalog.testcase",
                    ),
                ),
                migrations.AlterField(
                    model_name="casestats",
                    name="project",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="catalog.project",
                    ),
                ),
                migrations.AlterField(
                    model_name="importbatch",
                    name="project",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="import_batches",
                        to="catalog.project",
                    ),
                ),
                migrations.AlterField(
                    model_name="suitehook",
                    name="suite",
                    field=models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="hook",
                        serialize=False,
                        to="catalog.testsuite",
                    ),
                ),
            ],
            database_operations=[],
        ),
    ]
