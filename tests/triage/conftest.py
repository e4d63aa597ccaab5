"""Fixtures of the triage tests: JUnit reports written to order and imported for real."""

import io
from xml.sax.saxutils import escape, quoteattr

import pytest

from results.imports import junit_import
from tests.results.conftest import run, x_case  # noqa: F401  fixtures of real engine runs

FAULTS = {
    "refused": ("java.net.ConnectException", "Connection refused to 10.0.0.{n}:5432"),
    "assert": ("org.opentest4j.AssertionFailedError", "expected: <200> but was: <{n}>"),
    "timeout": ("java.util.concurrent.TimeoutException", "Timed out after {n}00 ms"),
    "npe": ("java.lang.NullPointerException", 'Cannot invoke "Cart.total()" because cart is null'),
}


def report(outcomes: dict[str, str], n: int = 1) -> bytes:
    """A Surefire report: {test name: "pass" or a FAULTS key}; `n` varies the numbers."""
    cases = []
    for name, outcome in outcomes.items():
        if outcome == "pass":
            cases.append(f'<testcase classname="com.acme.CartTest" name="{name}" time="0.01"/>')
            continue
        kind, message = FAULTS[outcome]
        message = message.format(n=n)
        cases.append(
            f'<testcase classname="com.acme.CartTest" name="{name}" time="0.02">'
            f'<failure type="{kind}" message={quoteattr(message)}>{escape(kind + ": " + message)}\n'
            f"\tat com.acme.Cart.{outcome}(Cart.java:{40 + n})\n"
            # a product stack deeper than the frames a signature keeps: the same fault reached
            # from two tests is one group
            + "".join(f"\tat com.acme.Shop.layer{i}(Shop.java:{i})\n" for i in range(4))
            + f"\tat com.acme.CartTest.{name}(CartTest.java:{10 + n})\n</failure></testcase>"
        )
    return (
        '<?xml version="1.0"?><testsuite name="com.acme.CartTest">'
        + "".join(cases)
        + "</testsuite>"
    ).encode()


@pytest.fixture
def upload(project):
    """upload({name: outcome}, branch=..., n=...) -> the ImportBatch, imported for real."""
    counter = iter(range(1, 1000))

    def do(outcomes: dict[str, str], *, branch: str = "main", n: int | None = None, to=None):
        number = next(counter)
        batch, created = junit_import(
            project=to or project,
            stream=io.BytesIO(report(outcomes, n if n is not None else number)),
            branch=branch,
            revision=f"r{number}",
        )
        assert created
        return batch

    return do
