"""The comparisons steps share: equals, contains, matches (a regular expression).

Used by the http action (JSON paths, headers), the browser action (URL, title) and the built-in
BDD step definitions, so "contains" means the same thing everywhere.
"""

import re

OPERATORS = ("equals", "contains", "matches")


def matches(op: str, actual: object, expected: object) -> bool:
    if op == "equals":
        return actual == expected or (
            isinstance(expected, str) and not isinstance(actual, str) and _text(actual) == expected
        )
    if op == "contains":
        if isinstance(actual, str):
            return str(expected) in actual
        if isinstance(actual, list):
            return expected in actual
        if isinstance(actual, dict):
            return str(expected) in actual
        return False
    if op == "matches":
        return actual is not None and re.search(str(expected), _text(actual)) is not None
    raise ValueError(f"unknown comparison {op!r}")


def _text(value: object) -> str:
    """JSON-ish text of a value: true/false/null rather than Python's True/False/None."""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "null"
    return str(value)


def regex_error(pattern: object) -> str | None:
    """A message when `pattern` is not a valid regular expression (checked when a case is saved)."""
    if not isinstance(pattern, str):
        return "a regular expression must be text"
    if "{{" in pattern:
        return None  # filled in at run time
    try:
        re.compile(pattern)
    except re.error as exc:
        return f"invalid regular expression {pattern!r}: {exc}"
    return None


def one_operator(spec: dict) -> tuple[str, object] | None:
    """The single (operator, expected) of a spec like {"path": "...", "contains": "x"}."""
    found = [(op, spec[op]) for op in OPERATORS if op in spec]
    return found[0] if len(found) == 1 else None
