"""A GIN index on Execution.labels for label filters (`?label=env:staging` -> labels @> {...}).

PostgreSQL only: SQLite has no GIN indexes and filters labels with a table scan, which is fine for
the data a laptop holds.
"""

from django.db import migrations

CREATE = (
    "CREATE INDEX IF NOT EXISTS exec_labels_gin ON executions_execution "
    "USING gin (labels jsonb_path_ops)"
)
DROP = "DROP INDEX IF EXISTS exec_labels_gin"


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("executions", "0005_default_parameters")]

    operations = [migrations.RunPython(create, drop)]
