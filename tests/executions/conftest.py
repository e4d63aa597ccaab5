import shutil
import tempfile
from pathlib import Path

import pytest

from runners.command_user import command_user, hand_over
from tests.factories import SuiteItemFactory, TestCaseFactory, TestSuiteFactory


@pytest.fixture
def command_tmp():
    """A folder a command step can write to. pytest's tmp_path lies in a folder only its owner
    may enter, and when the tests run as root, commands run as IB_COMMAND_USER (nobody)."""
    folder = Path(tempfile.mkdtemp(prefix="ib-test-"))
    hand_over(folder, command_user())
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def case(project):
    return TestCaseFactory(project=project)


@pytest.fixture
def failing_case(project):
    return TestCaseFactory(
        project=project,
        steps=[{"name": "x is 2", "action": "assert", "params": {"variable": "x", "equals": 2}}],
    )


@pytest.fixture
def make_suite(project):
    def make(*cases, **options):
        suite = TestSuiteFactory(project=project, **options)
        for order, c in enumerate(cases):
            SuiteItemFactory(suite=suite, case=c, order=order)
        return suite

    return make


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    """Attachments of these tests go to a folder of the test's own, not the user's data folder."""
    settings.MEDIA_ROOT = tmp_path / "media"
