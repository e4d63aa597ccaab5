"""Failure signatures: the same fault in two runs signs alike whatever ids, timestamps, paths,
ports and line numbers changed; different faults sign differently. The tracebacks are real:
Python's are raised and formatted here from modules in two different temp directories, the
others are the runners' own output (tests/results/junit_samples) as a second run would vary it,
and our steps' errors come from runs of the real engine."""

import importlib.util
import traceback
import uuid
from datetime import UTC, datetime

import pytest

from results.imports import junit_import
from results.models import CaseResult
from results.signatures import failure_signature, normalise, top_frames
from tests.factories import TestCaseFactory
from tests.results.conftest import sample

MODULE = """
import uuid, datetime

class Order:
    pass

def charge(order):
    raise ConnectionError(
        f"payment gateway at 10.0.{PORT % 250}.7:{PORT} refused order {uuid.uuid4()} "
        f"({order!r}) at {datetime.datetime.now().isoformat()}"
    )

def checkout():
    return charge(Order())

def refund():
    return {}["amount"]
"""


def _python_failure(tmp_path, folder: str, port: int, function: str) -> tuple[str, str, str]:
    """Run `function` of a real module written under tmp_path/folder; its real traceback."""
    path = tmp_path / folder / "shop_payments.py"
    path.parent.mkdir()
    path.write_text(f"PORT = {port}\n" + MODULE)
    spec = importlib.util.spec_from_file_location("shop_payments", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    try:
        getattr(module, function)()
    except Exception as exc:  # the real thing, formatted as any Python runner prints it
        return type(exc).__name__, str(exc), traceback.format_exc()
    raise AssertionError("no failure")


def test_a_python_fault_signs_alike_across_paths_ids_addresses_timestamps_and_ports(tmp_path):
    first = _python_failure(tmp_path, "run1", 54321, "checkout")
    second = _python_failure(tmp_path, "run-2-checkout-0af3", 40007, "checkout")

    assert first[2] != second[2]  # paths, port, uuid, address and time all differ
    assert failure_signature(*first) == failure_signature(*second)


def test_different_python_faults_sign_differently(tmp_path):
    refused = _python_failure(tmp_path, "a", 54321, "checkout")
    missing = _python_failure(tmp_path, "b", 54321, "refund")

    assert failure_signature(*refused) != failure_signature(*missing)


def test_the_innermost_python_frames_count_without_directory_or_line(tmp_path):
    *_, text = _python_failure(tmp_path, "c", 1, "checkout")

    assert top_frames(text)[:2] == ["charge@shop_payments.py", "checkout@shop_payments.py"]


PYTEST = sample("pytest.xml").decode()
JEST = sample("jest.xml").decode()
SUREFIRE = sample("surefire.xml").decode()


def _between(text: str, start: str, end: str) -> str:
    head = text.index(start)
    return text[head : text.index(end, head)]


def _pytest_failure(line: int, status: int) -> tuple[str, str, str]:
    body = _between(PYTEST, "client = &lt;", "</failure>").replace("&lt;", "<").replace("&gt;", ">")
    body = body.replace("402", str(status)).replace("test_cart.py:31", f"test_cart.py:{line}")
    return "", f"AssertionError: assert {status} == 200", body


def _jest_failure(root: str, line: int, received: str) -> tuple[str, str, str]:
    body = _between(JEST, "Error: expect(received)", "</failure>").replace("&lt;", "<")
    body = body.replace("/app/", root).replace(":24:32", f":{line}:32")
    return "", "", body.replace('"€12.00"', f'"{received}"')


def _surefire_failure(line: int, extra: str, frames: str | None = None) -> tuple[str, str, str]:
    body = _between(SUREFIRE, "org.opentest4j.AssertionFailedError: expected", "]]>")
    body = body.replace("CartTest.java:41", f"CartTest.java:{line}")
    if frames is not None:
        body = body.split("\n")[0] + "\n" + frames
    return "org.opentest4j.AssertionFailedError", f"expected: <true> but was: <false>{extra}", body


CASES = [
    pytest.param(_pytest_failure(31, 402), _pytest_failure(35, 500), True, id="pytest same"),
    pytest.param(
        _pytest_failure(31, 402),
        (
            "",
            "psycopg.OperationalError: connection refused",
            "tests/conftest.py:14: OperationalError",
        ),
        False,
        id="pytest different",
    ),
    pytest.param(
        _jest_failure("/app/", 24, "€12.00"),
        _jest_failure("/builds/ci-8812/app/", 27, "€12.00"),
        True,
        id="jest same",
    ),
    pytest.param(
        _jest_failure("/app/", 24, "€12.00"),
        (
            "",
            "",
            "TypeError: Cannot read properties of undefined (reading 'total')\n"
            "    at Cart.render (/app/src/Cart.js:11:20)\n"
            "    at Object.<anonymous> (/app/src/Cart.test.js:24:32)",
        ),
        False,
        id="jest different",
    ),
    pytest.param(
        _surefire_failure(41, f" (request {uuid.uuid4()} at {datetime.now(UTC).isoformat()})"),
        _surefire_failure(44, f" (request {uuid.uuid4()} at 2026-12-08 03:14:15.926)"),
        True,
        id="junit5 same",
    ),
    pytest.param(
        _surefire_failure(41, ""),
        _surefire_failure(
            41, "", "\tat com.acme.shop.CartTest.appliesDiscount(CartTest.java:52)\n"
        ),
        False,
        id="junit5 other frame",
    ),
    pytest.param(
        (
            "HttpStatusMismatch",
            "GET http://127.0.0.1:41823/api/orders/7f3a9c2e answered 503, expected 200",
            "",
        ),
        (
            "HttpStatusMismatch",
            "GET http://127.0.0.1:36001/api/orders/0b81d44f answered 503, expected 200",
            "",
        ),
        True,
        id="our step same",
    ),
    pytest.param(
        (
            "HttpStatusMismatch",
            "GET http://127.0.0.1:41823/api/orders answered 503, expected 200",
            "",
        ),
        ("AssertionFailed", "GET http://127.0.0.1:41823/api/orders answered 503, expected 200", ""),
        False,
        id="our step other type",
    ),
]


@pytest.mark.parametrize(("one", "other", "same"), CASES)
def test_the_table_of_real_tracebacks(one, other, same):
    assert (failure_signature(*one) == failure_signature(*other)) is same


def test_normalise_takes_out_what_varies():
    text = (
        "at 0x7f3a2b1c9d80 id 5c1f0f3e-8a4d-4b2e-9f7a-0c2d1e3f4a5b on 192.168.1.20:8080 "
        "at 2026-12-08T03:14:15.926Z in /tmp/pytest-of-ci/pytest-42/test_x0/f.txt commit deadbeef1234"
    )

    assert normalise(text) == "at <hex> id <uuid> on <ip> at <time> in <tmp> commit <hex>"


def test_nothing_to_sign_is_empty():
    assert failure_signature("", "", "") == ""


def test_an_import_signs_failures_and_errors_only(project):
    junit_import(project=project, stream=__import__("io").BytesIO(sample("surefire.xml")))

    rows = CaseResult.objects.values_list("outcome", "signature")
    assert {o for o, s in rows if s} == {"failed"}
    assert all(len(s) == 40 for o, s in rows if o == "failed")
    assert all(s == "" for o, s in rows if o != "failed")


@pytest.mark.django_db
def test_our_own_step_errors_sign_alike_across_runs_and_apart_from_another_fault(project, run):
    case = TestCaseFactory(
        project=project,
        steps=[{"name": "x is 1", "action": "assert", "params": {"variable": "x", "equals": 1}}],
    )
    other = TestCaseFactory(
        project=project,
        steps=[{"name": "y is set", "action": "assert", "params": {"variable": "y", "equals": 1}}],
    )
    run(case, x=2)
    run(case, x=37)
    run(other, x=1)

    signatures = list(CaseResult.objects.order_by("id").values_list("signature", flat=True))
    assert signatures[0] == signatures[1] != ""
    assert signatures[2] not in ("", signatures[0])
