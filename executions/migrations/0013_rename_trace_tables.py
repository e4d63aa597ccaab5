"""The trace tables take this app's names; their content types move; django-q2 schedules call
the worker tasks where they now live (engine.tasks). On PostgreSQL, the names derived from the
old table names (of the trace tables and of the catalog's, catalog 0002) follow too."""

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


# The tables of the move, catalog 0002's and this migration's: name now -> name before.
MOVED_TABLES = {
    "catalog_project": "executions_project",
    "catalog_membership": "executions_membership",
    "catalog_testcase": "executions_testcase",
    "catalog_testsuite": "executions_testsuite",
    "catalog_suiteitem": "executions_suiteitem",
    "catalog_runnerprofile": "executions_runnerprofile",
    "executions_trace": "results_trace",
    "executions_steprecord": "results_steprecord",
}


def _derived_names(apps, schema_editor):
    """(kind, table, name before the move, name now) of every name that PostgreSQL or Django
    derives from a moved table's name: the id sequence, the primary and unique keys, the checks,
    the indexes and constraints of foreign keys (also those of other tables that point at a moved
    one) and the "_like" (varchar_pattern_ops) indexes. Meta indexes and constraints have names
    of their own. Most of these Django looks up when it alters a table, but not all: it computes
    the "_like" index's name, so with the old one left an AlterField of Project.slug to a
    non-text type fails on the index it never drops."""
    index_name = schema_editor._create_index_name

    def before(table):
        return MOVED_TABLES.get(table, table)

    for model in apps.get_models():
        table = model._meta.db_table
        moved = table in MOVED_TABLES
        for field in model._meta.local_concrete_fields:
            column = field.column
            if field.is_relation and field.db_constraint:
                target = field.target_field
                to_table, to_column = target.model._meta.db_table, target.column
                if moved or to_table in MOVED_TABLES:
                    yield (
                        "constraint",
                        table,
                        index_name(before(table), [column], f"_fk_{before(to_table)}_{to_column}"),
                        index_name(table, [column], f"_fk_{to_table}_{to_column}"),
                    )
            if moved:
                for suffix in ("", "_like"):
                    yield (
                        "index",
                        table,
                        index_name(before(table), [column], suffix),
                        index_name(table, [column], suffix),
                    )
                yield "index", table, f"{before(table)}_{column}_key", f"{table}_{column}_key"
                yield (
                    "constraint",
                    table,
                    f"{before(table)}_{column}_check",
                    f"{table}_{column}_check",
                )
        if moved:
            pk = model._meta.pk.column
            yield "index", table, f"{before(table)}_pkey", f"{table}_pkey"
            yield "sequence", table, f"{before(table)}_{pk}_seq", f"{table}_{pk}_seq"


def _rename_derived_names(forward):
    def rename(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return  # SQLite rebuilds a table, and names its indexes afresh, on every AlterField
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(
                "SELECT relname FROM pg_class WHERE relnamespace = current_schema()::regnamespace"
                " UNION SELECT conname FROM pg_constraint"
                " WHERE connamespace = current_schema()::regnamespace"
            )
            existing = {name for (name,) in cursor.fetchall()}
        quote = schema_editor.quote_name
        for kind, table, before, now in _derived_names(apps, schema_editor):
            old, new = (before, now) if forward else (now, before)
            if old == new or old not in existing:
                continue
            if kind == "constraint":
                schema_editor.execute(
                    f"ALTER TABLE {quote(table)} RENAME CONSTRAINT {quote(old)} TO {quote(new)}"
                )
            else:  # renaming the index of a primary or unique key renames the key too
                schema_editor.execute(f"ALTER {kind.upper()} {quote(old)} RENAME TO {quote(new)}")

    return rename


class Migration(migrations.Migration):
    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
        ("catalog", "0002_rename_tables"),
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
        migrations.RunPython(_rename_derived_names(True), _rename_derived_names(False)),
    ]
