"""Reading JUnit XML files safely (defusedxml: no DTDs, no entities, no external references).

`junit_cases_from_file(path)` (or `junit_cases_from_bytes(data, name)` for bytes read with care,
as the `command` action reads a file the command wrote) gives one dict per <testcase>, in file
order:
    {"key": "classname.name", "classname", "name", "status", "duration_ms", "message"}
with status passed / failed / error / skipped. Used by the `command` action (a runner profile's
JUnit output) and reusable by anything else that reads JUnit (results' per-case history).
"""

import os
from pathlib import Path
from xml.etree.ElementTree import Element

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError, fromstring

MAX_JUNIT_BYTES = 50 * 1024 * 1024
MAX_MESSAGE_CHARS = 2000
KEY_MAX_LENGTH = 255  # TestCase.key


class JunitError(ValueError):
    """The file is missing, too big, not XML, or not JUnit."""


def junit_cases_from_file(path: str | os.PathLike) -> list[dict]:
    file = Path(path)
    if not file.is_file():
        raise JunitError(f"No JUnit XML file at {file}.")
    if file.stat().st_size > MAX_JUNIT_BYTES:
        raise JunitError(f"{file} is larger than {MAX_JUNIT_BYTES // (1024 * 1024)} MiB.")
    return junit_cases_from_bytes(file.read_bytes(), file.name)


def junit_cases_from_bytes(data: bytes, name: str) -> list[dict]:
    """`name` is only for messages."""
    try:
        root = fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (ParseError, DefusedXmlException) as exc:
        raise JunitError(f"{name} is not valid JUnit XML: {exc}") from None
    if root.tag not in ("testsuites", "testsuite"):
        raise JunitError(f"{name} is not JUnit XML (root element <{root.tag}>).")
    return [_case(element) for element in root.iter("testcase")]


def _case(element: Element) -> dict:
    classname = (element.get("classname") or "").strip()
    name = (element.get("name") or "").strip() or "(unnamed)"
    status, message = "passed", ""
    for child in element:
        if child.tag in ("failure", "error", "skipped"):
            status = {"failure": "failed", "error": "error", "skipped": "skipped"}[child.tag]
            message = _message(child)
            break
    return {
        "key": case_key(classname, name),
        "classname": classname,
        "name": name,
        "status": status,
        "duration_ms": _duration_ms(element.get("time")),
        "message": message,
    }


def case_key(classname: str, name: str) -> str:
    """The stable identity of a reported test: `classname.name` (what per-test history uses)."""
    key = f"{classname}.{name}" if classname else name
    return key[:KEY_MAX_LENGTH]


def _message(element: Element) -> str:
    text = element.get("message") or (element.text or "").strip()
    return text[:MAX_MESSAGE_CHARS]


def _duration_ms(value: str | None) -> int | None:
    try:
        return round(float(value) * 1000) if value else None
    except ValueError:
        return None
