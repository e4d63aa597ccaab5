"""The catalog's tables take this app's names (they kept the executions app's names while the
models moved, catalog 0001 and executions 0011)."""

from django.db import migrations

MODELS = ["membership", "project", "runnerprofile", "suiteitem", "testcase", "testsuite"]


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0001_initial"),
        ("executions", "0011_catalog_moved"),
    ]

    operations = [
        *[migrations.AlterModelTable(name=model, table=None) for model in MODELS],
        migrations.RenameIndex(
            model_name="testcase",
            new_name="catalog_tes_project_bbe9de_idx",
            old_name="executions__project_df0c4b_idx",
        ),
    ]
