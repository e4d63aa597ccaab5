"""The catalog's models (projects, members, cases, suites, runner profiles) leave this app for the
catalog app, in state only: catalog 0001 took them over with their tables, catalog 0002 renames
the tables. Content types move with them, so permissions and admin history stay attached."""

import django.db.models.deletion
from django.db import migrations, models


def _move_content_types(old_label, new_label, models):
    """Permissions and admin log entries point at content types: move those, not copies."""

    def move(apps, schema_editor):
        content_type = apps.get_model("contenttypes", "ContentType")
        for model in models:
            if content_type.objects.filter(app_label=new_label, model=model).exists():
                continue  # a migrate of the new app ran first and made its own; keep both as found
            content_type.objects.filter(app_label=old_label, model=model).update(
                app_label=new_label
            )

    return move


CATALOG_MODELS = ["project", "membership", "testcase", "testsuite", "suiteitem", "runnerprofile"]


class Migration(migrations.Migration):
    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("catalog", "0001_initial"),
        ("executions", "0010_runnerprofile_unconfined_help"),
        ("results", "0003_catalog_moved"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveField(
                    model_name="project",
                    name="members",
                ),
                migrations.AlterField(
                    model_name="execution",
                    name="project",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="executions",
                        to="catalog.project",
                    ),
                ),
                migrations.RemoveField(
                    model_name="runnerprofile",
                    name="project",
                ),
                migrations.AlterField(
                    model_name="executionevent",
                    name="project",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="catalog.project",
                    ),
                ),
                migrations.RemoveField(
                    model_name="testsuite",
                    name="project",
                ),
                migrations.AlterField(
                    model_name="runschedule",
                    name="project",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="schedules",
                        to="catalog.project",
                    ),
                ),
                migrations.RemoveField(
                    model_name="testcase",
                    name="project",
                ),
                migrations.RemoveField(
                    model_name="suiteitem",
                    name="case",
                ),
                migrations.RemoveField(
                    model_name="suiteitem",
                    name="suite",
                ),
                migrations.RemoveField(
                    model_name="testsuite",
                    name="cases",
                ),
                migrations.RemoveField(
                    model_name="testcase",
                    name="created_by",
                ),
                migrations.AlterField(
                    model_name="execution",
                    name="test_case",
                    field=models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="executions",
                        to="catalog.testcase",
                    ),
                ),
                migrations.AlterField(
                    model_name="runschedule",
                    name="test_case",
                    field=models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="schedules",
                        to="catalog.testcase",
                    ),
                ),
                migrations.AlterField(
                    model_name="execution",
                    name="test_suite",
                    field=models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="executions",
                        to="catalog.testsuite",
                    ),
                ),
                migrations.AlterField(
                    model_name="runschedule",
                    name="test_suite",
                    field=models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="schedules",
                        to="catalog.testsuite",
                    ),
                ),
                migrations.DeleteModel(
                    name="Membership",
                ),
                migrations.DeleteModel(
                    name="RunnerProfile",
                ),
                migrations.DeleteModel(
                    name="Project",
                ),
                migrations.DeleteModel(
                    name="SuiteItem",
                ),
                migrations.DeleteModel(
                    name="TestCase",
                ),
                migrations.DeleteModel(
                    name="TestSuite",
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(
            _move_content_types("executions", "catalog", CATALOG_MODELS),
            _move_content_types("catalog", "executions", CATALOG_MODELS),
        ),
    ]
