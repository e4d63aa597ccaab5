"""Step traces (Trace, StepRecord) move here from the results app, in state only: the tables
keep their old names until 0013 renames them."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("executions", "0011_catalog_moved"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="Trace",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        (
                            "storage",
                            models.CharField(
                                choices=[
                                    ("inline", "Inline (JSON on the trace row)"),
                                    ("rows", "Step rows"),
                                ],
                                default="inline",
                                max_length=6,
                            ),
                        ),
                        ("steps", models.JSONField(blank=True, default=list)),
                        ("step_count", models.PositiveIntegerField(default=0)),
                        ("last_order", models.IntegerField(default=-1)),
                        ("counts", models.JSONField(blank=True, default=dict)),
                        ("updated_at", models.DateTimeField(auto_now=True)),
                        (
                            "attempt",
                            models.OneToOneField(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="trace",
                                to="executions.attempt",
                            ),
                        ),
                        (
                            "execution",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="traces",
                                to="executions.execution",
                            ),
                        ),
                    ],
                    options={"db_table": "results_trace"},
                ),
                migrations.CreateModel(
                    name="StepRecord",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("order", models.PositiveIntegerField()),
                        ("status", models.CharField(max_length=12)),
                        ("data", models.JSONField()),
                        (
                            "trace",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="records",
                                to="executions.trace",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "results_steprecord",
                        "ordering": ["trace", "order"],
                    },
                ),
                migrations.AddIndex(
                    model_name="trace",
                    index=models.Index(fields=["execution"], name="trace_execution"),
                ),
                migrations.AddConstraint(
                    model_name="steprecord",
                    constraint=models.UniqueConstraint(
                        fields=("trace", "order"), name="step_order_unique_per_trace"
                    ),
                ),
            ],
            database_operations=[],
        ),
    ]
