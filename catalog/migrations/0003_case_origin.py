from django.db import migrations, models

# results.reported_cases creates a case for each test reported from outside: step-less, tagged
# "junit", described "Reported by <source> ...", where the source is "JUnit import #N" for an
# import and "runner profile NAME" for a command step's JUnit output. Only such rows change; a
# case someone gave steps or a feature since is authored.
IMPORT_PREFIX = "Reported by JUnit import"
REPORT_PREFIX = "Reported by runner profile"


def mark_reported_cases(apps, schema_editor):
    TestCase = apps.get_model("catalog", "TestCase")
    rows = TestCase.objects.filter(
        type="generic", feature="", description__startswith="Reported by "
    ).values_list("pk", "description", "steps", "tags")
    found = {"imported": [], "reported": []}
    for pk, description, steps, tags in rows.iterator():
        if steps or "junit" not in (tags or []):
            continue
        if description.startswith(IMPORT_PREFIX):
            found["imported"].append(pk)
        elif description.startswith(REPORT_PREFIX):
            found["reported"].append(pk)
    for origin, ids in found.items():
        for start in range(0, len(ids), 500):
            TestCase.objects.filter(pk__in=ids[start : start + 500]).update(origin=origin)


class Migration(migrations.Migration):
    # After results 0005, which renamed the keys of the cases command steps had reported: the
    # rows marked here are the ones it left (and tests that migrate results back to before it
    # get a catalog table without this column, as it was then).
    dependencies = [("catalog", "0002_rename_tables"), ("results", "0005_reported_case_keys")]

    operations = [
        migrations.AddField(
            model_name="testcase",
            name="origin",
            field=models.CharField(
                choices=[
                    ("authored", "Authored"),
                    ("imported", "Imported (JUnit)"),
                    ("reported", "Reported by a command step"),
                ],
                default="authored",
                help_text="Imported and reported cases only collect results from outside: they cannot run.",
                max_length=10,
            ),
        ),
        migrations.RunPython(mark_reported_cases, migrations.RunPython.noop),
    ]
