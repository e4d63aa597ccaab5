"""Cases the `command` action created under keys the catalog refuses get the key of the one
case_key (issue 13).

Until the command action and JUnit imports shared results.junit.case_key, a command step stored
`classname.name` as it came (`tests.test_api.test_create[priority=high]`), bypassing the key
validator, while an upload of the same test stored `tests.test_api.test_create[priority_high]:
<hash>`: two cases, split history. Each case whose key case_key would not keep is renamed to the
key case_key gives it, or, when the project already has a case under that key (the upload's),
merged into that case: its results, health events, executions, schedules and suite places move
there, the two stats rows are folded into one, and it is deleted.

The new key is case_key("", old key): case_key depends only on "classname.name", which is what
the old key holds, so it is the key an upload of the same test gets. An old key the command
action had cut at 255 characters still passes the validator and is left as it is (the rest of
the name, which the hash needs, is gone). Step traces keep the old ids and keys in their
`children`: they are what that run recorded. Not reversible: the old keys were never valid.

case_key and flaky_verdict are imported, not copied: the keys must be the ones uploads get from
now on, and both are pure functions of their arguments.
"""

from datetime import datetime

from django.conf import settings
from django.db import migrations

from results.history import flaky_verdict
from results.junit import case_key

COUNTERS = ("runs", "passed", "failed", "errored", "skipped")


def rekey_reported_cases(apps, schema_editor):
    TestCase = apps.get_model("catalog", "TestCase")
    rows = TestCase.objects.order_by("pk").values_list("pk", "project_id", "key")
    stale = [(pk, project, key) for pk, project, key in rows.iterator() if case_key("", key) != key]
    for pk, project_id, key in stale:
        new_key = case_key("", key)
        same = TestCase.objects.filter(project_id=project_id, key=new_key).first()
        if same is None:
            TestCase.objects.filter(pk=pk).update(key=new_key)
        else:
            _merge(apps, pk, same.pk)


def _merge(apps, old: int, new: int) -> None:
    for label, column in (
        ("results.CaseResult", "case_id"),
        ("results.CaseEvent", "case_id"),
        ("executions.Execution", "test_case_id"),
        ("executions.RunSchedule", "test_case_id"),
    ):
        apps.get_model(label).objects.filter(**{column: old}).update(**{column: new})
    SuiteItem = apps.get_model("catalog", "SuiteItem")
    # A suite holds a case once: where both were items, the surviving case's item stays.
    both = SuiteItem.objects.filter(case_id=new).values("suite_id")
    SuiteItem.objects.filter(case_id=old, suite_id__in=both).delete()
    SuiteItem.objects.filter(case_id=old).update(case_id=new)
    _merge_stats(apps.get_model("results", "CaseStats"), old, new)
    apps.get_model("catalog", "TestCase").objects.filter(pk=old).delete()


def _merge_stats(CaseStats, old: int, new: int) -> None:
    gone = CaseStats.objects.filter(case_id=old).first()
    if gone is None:
        return
    kept = CaseStats.objects.filter(case_id=new).first()
    if kept is None:
        CaseStats.objects.filter(case_id=old).update(case_id=new)
        return
    for name in COUNTERS:
        setattr(kept, name, getattr(kept, name) + getattr(gone, name))
    if gone.last_run_at and (kept.last_run_at is None or gone.last_run_at > kept.last_run_at):
        kept.last_outcome, kept.last_run_at = gone.last_outcome, gone.last_run_at
    recent = sorted([*kept.recent, *gone.recent], key=lambda e: datetime.fromisoformat(e["at"]))
    kept.recent = recent[-settings.IB_FLAKY_WINDOW :]
    kept.flips, kept.flaky_score, kept.is_flaky, reason = flaky_verdict(
        kept.recent, settings.IB_FLAKY_MIN_FLIPS
    )
    kept.flaky_reason = reason[:255]
    kept.save()
    gone.delete()


class Migration(migrations.Migration):
    dependencies = [
        ("results", "0004_traces_moved"),
        ("catalog", "0002_rename_tables"),
        ("executions", "0013_rename_trace_tables"),
    ]

    operations = [migrations.RunPython(rekey_reported_cases, migrations.RunPython.noop)]
