"""Fixtures of the dashboard tests: cases that pass, fail and error for real when the engine runs
them in this process (engine.worker.run_next), and suites of them."""

import io

import pytest
from django.core.management import call_command

from catalog.models import CaseStatus
from engine import worker as engine
from tests.factories import SuiteItemFactory, TestCaseFactory, TestSuiteFactory

# The browser tests' uvicorn against the test database (shared with the CSP browser tests).
from tests.monitoring.test_csp_browser import server  # noqa: F401


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def case(project):
    return TestCaseFactory(project=project, key="passes")


@pytest.fixture
def failing_case(project):
    """Step 1 passes, step 2 fails: x is 1, not 2."""
    return TestCaseFactory(
        project=project,
        key="fails",
        steps=[
            {"name": "set x", "action": "set", "params": {"values": {"x": 1}}},
            {"name": "x is 2", "action": "assert", "params": {"variable": "x", "equals": 2}},
        ],
    )


@pytest.fixture
def deprecated_case(project):
    return TestCaseFactory(project=project, key="old-one", status=CaseStatus.DEPRECATED)


@pytest.fixture
def make_suite(project):
    def make(*cases, skipped=(), **options):
        suite = TestSuiteFactory(project=project, **options)
        for order, c in enumerate(cases):
            SuiteItemFactory(suite=suite, case=c, order=order, skip=c in skipped)
        return suite

    return make


def run_suite_and_wait(suite) -> tuple[int, str, str]:
    """`manage.py run --suite ... --wait --here` as a user types it: (exit code, stdout,
    stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(SystemExit) as exit_:
        call_command(
            "run",
            "--project",
            suite.project.slug,
            "--suite",
            suite.name,
            "--wait",
            "--here",
            stdout=out,
            stderr=err,
        )
    return exit_.value.code, out.getvalue(), err.getvalue()


def run_all(worker: str = "test-worker") -> None:
    """Run everything queued, for real, in this process (as `run --wait --here` does)."""
    while engine.run_next(worker=worker):
        pass
