"""`manage.py compare A B`: the buckets printed, and the exit codes CI reads (0, 1, 2), through
the real command-line entry point."""

import io
import subprocess
import sys

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from results.imports import junit_import
from tests.live import ROOT, live_env
from tests.results.test_compare import BASE, HEAD, junit

pytestmark = pytest.mark.django_db


def upload(project, report: bytes) -> str:
    batch, _ = junit_import(project=project, stream=io.BytesIO(report), branch="main")
    return f"import:{batch.pk}"


def compare(*args) -> tuple[int, str]:
    out = io.StringIO()
    try:
        call_command("compare", *args, stdout=out)
    except CommandError as exc:
        return exc.returncode, out.getvalue()
    return 0, out.getvalue()


def test_something_newly_failing_exits_1_and_prints_every_bucket(project):
    base, head = upload(project, BASE), upload(project, HEAD)

    code, out = compare(base, head)

    assert code == 1
    assert "Newly failing: 2" in out
    assert "shop.turns_red  passed -> failed  cart is empty" in out
    assert "Fixed: 1" in out and "Removed tests: 1" in out and "New tests: 1" in out
    assert "shop.got_slow  passed -> passed  1000 ms -> 2000 ms (2.0x)" in out


def test_nothing_newly_failing_exits_0(project):
    base = upload(project, junit(("a", "failure", 0.1), ("b", "passed", 0.1)))
    head = upload(project, junit(("a", "passed", 0.1), ("b", "passed", 0.1)))

    code, out = compare(base, head)

    assert code == 0
    assert "Fixed: 1" in out


def test_previous_as_base_compares_with_the_earlier_import(project):
    upload(project, junit(("a", "passed", 0.1)))
    head = upload(project, junit(("a", "failure", 0.1)))

    code, out = compare("previous", head)

    assert code == 1
    assert "shop.a  passed -> failed" in out


@pytest.mark.parametrize("refs", [("import:999999", "import:1"), ("nonsense", "import:1")])
def test_runs_that_cannot_be_compared_exit_2(project, refs):
    upload(project, junit(("a", "passed", 0.1)))

    code, _ = compare(*refs)

    assert code == 2


@pytest.mark.django_db(transaction=True)
def test_the_exit_code_reaches_the_shell(project):
    """Through `python manage.py compare` itself, as CI runs it (the test database by name)."""
    base, head = upload(project, BASE), upload(project, HEAD)
    env = live_env()
    manage = str(ROOT / "manage.py")

    newly = subprocess.run(
        [sys.executable, manage, "compare", base, head], env=env, capture_output=True
    )
    same = subprocess.run(
        [sys.executable, manage, "compare", head, head], env=env, capture_output=True
    )

    assert newly.returncode == 1, newly.stderr
    assert same.returncode == 0, same.stderr
