"""The one key of a reported test and the one service that finds or creates its catalog case,
shared by the `command` action and JUnit imports."""

import threading

import pytest
from django.conf import settings
from django.db import connection

from catalog.models import CaseStatus, CaseType, TestCase
from results import reported_cases
from results.junit import case_key, junit_cases_from_bytes
from results.reported_cases import reported_cases_find_or_create
from tests.factories import TestCaseFactory, UserFactory

pytestmark = pytest.mark.django_db

NAMES = [
    ("tests.test_api", "test_create[priority=high]"),
    ("tests.test_api", "test_x[a/b]"),
    ("tests.test_api", "test_größe[ünï]"),
    ("tests.test_api", "test_emoji[🚀]"),
    ("", "test_bare[a=1]"),
    ("tests.test_api", "test_long[" + "v" * 400 + "]"),
    ("tests.test_api", "(unnamed)"),
]


def report(*names: tuple[str, str]) -> bytes:
    cases = "".join(f'<testcase classname="{c}" name="{n}"/>' for c, n in names)
    return f"<testsuite>{cases}</testsuite>".encode()


def reported(*names: tuple[str, str]):
    return junit_cases_from_bytes(report(*names))


# --- the key ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("classname", "name"), NAMES)
def test_a_reported_key_is_one_the_catalog_accepts(project, classname, name):
    case = TestCase(project=project, key=case_key(classname, name), name=name[:255])

    case.full_clean()


def test_names_that_differ_only_in_refused_characters_keep_distinct_keys():
    keys = {case_key("m", n) for n in ("t[a=1]", "t[a_1]", "t[a+1]", "t[a 1]")}

    assert len(keys) == 4


def test_a_key_the_catalog_accepts_stays_as_it_is():
    assert case_key("tests.test_api", "test_create[high-1]") == "tests.test_api.test_create[high-1]"


# --- finding and creating cases -----------------------------------------------------------------


def test_missing_cases_are_created_as_generic_active_and_step_less(project):
    author = UserFactory()

    ids, created = reported_cases_find_or_create(
        project.pk, reported(*NAMES), source="runner profile p", created_by_id=author.pk
    )

    assert created == len(NAMES)
    assert set(ids) == {case_key(c, n) for c, n in NAMES}
    case = TestCase.objects.get(pk=ids[case_key(*NAMES[0])])
    assert (case.type, case.status, case.steps) == (CaseType.GENERIC, CaseStatus.ACTIVE, [])
    assert case.name == "test_create[priority=high]"
    assert case.description == "Reported by runner profile p (tests.test_api)."
    assert (case.tags, case.created_by) == (["junit"], author)
    long_name = TestCase.objects.get(pk=ids[case_key(*NAMES[5])]).name
    assert len(long_name) == 255


def test_existing_cases_are_found_and_not_created_again(project, other_project):
    mine = TestCaseFactory(project=project, key=case_key(*NAMES[0]))
    theirs = TestCaseFactory(project=other_project, key=case_key(*NAMES[1]))

    ids, created = reported_cases_find_or_create(project.pk, reported(*NAMES[:2]), source="x")

    assert created == 1
    assert ids[mine.key] == mine.pk
    assert ids[theirs.key] != theirs.pk  # another project's case is not this project's
    assert TestCase.objects.filter(project=project).count() == 2


def test_a_test_reported_twice_in_one_report_is_one_case(project):
    ids, created = reported_cases_find_or_create(
        project.pk, reported(NAMES[0], NAMES[0]), source="x"
    )

    assert created == 1
    assert TestCase.objects.get(project=project).pk == ids[case_key(*NAMES[0])]


def test_reports_larger_than_a_chunk_are_read_and_written_chunk_by_chunk(project, monkeypatch):
    monkeypatch.setattr(reported_cases, "CHUNK", 3)
    TestCaseFactory(project=project, key="m.t4")
    names = [("m", f"t{i}") for i in range(10)]

    ids, created = reported_cases_find_or_create(project.pk, reported(*names), source="x")

    assert created == 9
    assert ids == dict(TestCase.objects.filter(project=project).values_list("key", "id"))
    assert len(ids) == 10


# --- two reporters at once (PostgreSQL: real row locks) -----------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(not settings.IS_POSTGRES, reason="concurrent inserts need PostgreSQL")
def test_reporters_of_the_same_new_tests_at_once_get_the_same_cases(project):
    """Six reporters bring the same 150 new tests at once (enough for COPY; half of them in
    reverse order): none fails, every test is one case and they all get its id. Before COPY's
    unique violation became an IntegrityError (core.bulk), the losers failed here."""
    names = [("m", f"t{i}") for i in range(150)]
    orders = [names if i % 2 else names[::-1] for i in range(6)]
    barrier = threading.Barrier(len(orders))
    results, errors = [None] * len(orders), []

    def report_in_thread(i):
        try:
            barrier.wait()
            results[i] = reported_cases_find_or_create(
                project.pk, reported(*orders[i]), source=f"reporter {i}"
            )[0]
        except Exception as exc:  # surfaced below: a failing thread fails the test
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=report_in_thread, args=(i,)) for i in range(len(orders))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert not errors, errors
    assert TestCase.objects.filter(project=project).count() == len(names)
    assert all(ids == results[0] for ids in results)
    assert len(results[0]) == len(names)
