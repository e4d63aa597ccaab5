"""A tiny test folder for the demo `command` case (runner profile "sample-pytest").

Three tests, one failing on purpose, so the demo shows per-test results from JUnit XML, including a
failure with its message. Not part of IntelliBrowse's own test suite (testpaths = tests).
"""


def test_addition():
    assert 1 + 1 == 2


def test_text_is_reversed():
    assert "".join(reversed("abc")) == "cba"


def test_fails_on_purpose():
    basket = ["apple", "bread"]
    assert "cheese" in basket, "the demo failure: cheese was never added to the basket"
