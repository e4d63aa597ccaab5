import pytest

from tests.factories import SuiteItemFactory, TestCaseFactory, TestSuiteFactory


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
