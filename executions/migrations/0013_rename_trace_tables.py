"""The trace tables take this app's names; their content types move; django-q2 schedules call
the worker tasks where they now live (engine.tasks)."""

from django.db import migrations


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


def _task_paths(old, new):
    def rename(apps, schema_editor):
        schedule = apps.get_model("django_q", "Schedule")
        for row in schedule.objects.filter(func__startswith=old):
            row.func = new + row.func[len(old) :]
            row.save(update_fields=["func"])

    return rename


class Migration(migrations.Migration):
    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
        ("executions", "0012_traces_moved"),
        ("results", "0004_traces_moved"),
    ]

    operations = [
        migrations.AlterModelTable(name="trace", table=None),
        migrations.AlterModelTable(name="steprecord", table=None),
        migrations.RunPython(
            _move_content_types("results", "executions", ["trace", "steprecord"]),
            _move_content_types("executions", "results", ["trace", "steprecord"]),
        ),
        migrations.RunPython(
            _task_paths("executions.tasks.", "engine.tasks."),
            _task_paths("engine.tasks.", "executions.tasks."),
        ),
    ]
