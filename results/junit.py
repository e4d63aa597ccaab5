"""JUnit XML: the one reader, the one case key, and a streaming writer. No database here.

Reading: defusedxml's iterparse refuses any DTD (so no entity expansion, no external entities);
LimitedReader stops at a size limit and hashes what it reads (a gzip body is decompressed before
it, so the limit holds for what the parser would see and a gzip bomb stops there); ControlFilter
replaces the control characters XML 1.0 forbids, which runners copy raw from test output into
CDATA; each <testcase> is turned into a ParsedCase and dropped from the tree at once, so memory
stays flat however long the file is. A testcase with no name (jest writes one for a test with an
empty title) gets one from its suite and position instead of failing the whole report.
Accepts what real runners write: pytest, JUnit 5 / Surefire (flakyFailure, rerunFailure ...),
jest-junit, go-junit-report, nested <testsuite>s, properties, system-out / system-err. Two callers
read with it: imports stream uploads through JUnitReader (results.imports), and the `command`
action reads what a runner profile's command wrote (junit_cases_from_bytes). Both key a testcase
with case_key(), so a test a command step reported and the same test uploaded are one case.

Writing: a <testsuites> document that GitLab and Jenkins read, with Surefire's rerun elements so
that exporting and importing again gives the same results.
"""

import gzip
import hashlib
import io
import math
import re
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from io import StringIO
from xml.etree.ElementTree import ParseError
from xml.sax.saxutils import XMLGenerator

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import iterparse

from results.errors import ImportTooLarge, InvalidJUnit, XMLForbidden
from results.models import CaseOutcome

Outcome = CaseOutcome
KEY_MAX = 255  # TestCase.key
NAME_MAX = 255
MESSAGE_MAX = 2000
TEXT_MAX = 4000
MAX_PROPERTIES = 50
MAX_RERUNS = 10
# A report read whole into memory (a command step's): uploads stream up to IB_JUNIT_MAX_BYTES.
MAX_IN_MEMORY_BYTES = 50 * 1024 * 1024
# catalog.models.projects.key_validator: what a catalog key may hold.
_KEY_OK = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:/\-\[\] ]*")
_KEY_BAD_CHAR = re.compile(r"[^A-Za-z0-9_.:/\-\[\] ]")
# XML 1.0 forbids most control characters; test output is full of them (ANSI colours).
_XML_BAD_CHAR = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_RERUNS = {"flakyFailure", "flakyError", "rerunFailure", "rerunError"}
# The same characters as bytes, in an ASCII-compatible encoding (UTF-8, Latin-1 ...): there they
# are never part of a multi-byte character, so they can be replaced before the parser sees them.
_XML_BAD_BYTE = re.compile(b"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_DECLARED_ENCODING = re.compile(rb"""^<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")


# --- keys --------------------------------------------------------------------------------------


def case_key(classname: str, name: str) -> str:
    """The stable catalog key of a testcase: classname + "." + name.

    A key the catalog accepts as it is stays as it is, so keys of our own export come back
    unchanged. Otherwise characters the catalog refuses become "_" and a short hash of the
    original is appended, so two names that differ only in such characters (or beyond the field
    length) still get two cases; the result always fits TestCase.key.
    """
    raw = f"{classname}.{name}" if classname else name
    if len(raw) <= KEY_MAX and _KEY_OK.fullmatch(raw):
        return raw
    digest = hashlib.sha1(raw.encode(), usedforsecurity=False).hexdigest()[:12]
    cleaned = _KEY_BAD_CHAR.sub("_", raw).lstrip("_.:/-[] ") or "case"
    return f"{cleaned[: KEY_MAX - 13]}:{digest}"


def split_key(key: str) -> tuple[str, str]:
    """classname and name that case_key() turns back into `key`."""
    classname, dot, name = key.rpartition(".")
    return (classname, name) if dot and classname and name else ("", key)


# --- reading -----------------------------------------------------------------------------------


class LimitedReader:
    """A binary stream that refuses to go past `limit` bytes and hashes what passes through."""

    def __init__(self, stream, limit: int) -> None:
        self.stream, self.limit = stream, limit
        self.size = 0
        self._sha = hashlib.sha256()

    def read(self, n: int = -1) -> bytes:
        chunk = self.stream.read(n if n and n > 0 else 64 * 1024)
        if isinstance(chunk, str):
            chunk = chunk.encode()
        self.size += len(chunk)
        if self.size > self.limit:
            raise ImportTooLarge(
                f"The report is larger than the limit of {self.limit:,} bytes.",
                detail={"limit_bytes": self.limit},
            )
        self._sha.update(chunk)
        return chunk

    def hexdigest(self) -> str:
        return self._sha.hexdigest()

    def drain(self) -> str:
        """Read the rest (still bounded) and return the hash of the whole body."""
        while self.read(64 * 1024):
            pass
        return self.hexdigest()


def gunzipped(stream):
    """`stream` (a Content-Encoding: gzip body) as its decompressed bytes, read a piece at a time.

    GzipFile decompresses no more than each read asks for, so a LimitedReader on top stops a
    gzip bomb at its limit having inflated at most one piece past it. A body that is not gzip
    surfaces as InvalidJUnit on the first read."""
    return _GzipErrors(gzip.GzipFile(fileobj=stream, mode="rb"))


class _GzipErrors:
    def __init__(self, inner) -> None:
        self.inner = inner

    def read(self, n: int = -1) -> bytes:
        try:
            return self.inner.read(n)
        except (OSError, EOFError, zlib.error) as exc:  # BadGzipFile is an OSError
            raise InvalidJUnit(
                f"The body is sent as Content-Encoding: gzip but is not valid gzip: {exc}."
            ) from None


class ControlFilter:
    """A binary stream with the control characters XML 1.0 forbids replaced by U+FFFD ("?" in a
    document that declares another ASCII-compatible encoding); `replaced` counts them.

    Runners copy test output (ANSI colours, backspaces) raw into CDATA, where the parser refuses
    them and, with them, the whole report. A UTF-16 or UTF-32 document is passed through as it
    is: there a zero byte is half of an ordinary character."""

    def __init__(self, stream) -> None:
        self.stream = stream
        self.replaced = 0
        self._replacement: bytes | None = None  # decided on the first bytes

    def read(self, n: int = -1) -> bytes:
        chunk = self.stream.read(n)
        if self._replacement is None and chunk:
            self._replacement = _replacement_for(chunk)
        if not self._replacement:
            return chunk
        chunk, count = _XML_BAD_BYTE.subn(self._replacement, chunk)
        self.replaced += count
        return chunk


def _replacement_for(head: bytes) -> bytes:
    """What a forbidden control byte becomes, judged on the document's first bytes; b"" when the
    encoding is not ASCII-compatible and nothing may be replaced."""
    if head[:2] in (b"\xff\xfe", b"\xfe\xff") or b"\x00" in head[:4]:
        return b""
    declared = _DECLARED_ENCODING.match(head.removeprefix(b"\xef\xbb\xbf"))
    encoding = declared.group(1).decode().lower().replace("_", "-") if declared else "utf-8"
    return "\ufffd".encode() if encoding in ("utf-8", "utf8") else b"?"


@dataclass(slots=True)
class ParsedCase:
    suite: str
    classname: str
    name: str
    key: str
    outcome: str
    duration_ms: int | None
    message: str = ""
    retries: int = 0
    details: dict = field(default_factory=dict)


@dataclass
class JUnitReader:
    """Iterate over the testcases of a report: `for case in JUnitReader(stream, limit)`.
    After the loop, `name` and `suites` describe the document, `source` its size and hash, and
    `notes()` what was changed to read it (control characters replaced, names derived)."""

    stream: object
    limit: int
    name: str = ""
    suites: int = 0
    derived_names: int = 0
    source: LimitedReader = field(init=False)
    filtered: ControlFilter = field(init=False)

    def __post_init__(self) -> None:
        self.source = LimitedReader(self.stream, self.limit)
        self.filtered = ControlFilter(self.source)

    def notes(self) -> list[dict]:
        """[{"code", "count", "message"}] for each way the report was changed to be read."""
        notes = []
        if count := self.filtered.replaced:
            notes.append(
                {
                    "code": "control_characters_replaced",
                    "count": count,
                    "message": f"{count:,} control character(s) that XML does not allow (test "
                    "output such as ANSI colour codes) were replaced with U+FFFD.",
                }
            )
        if count := self.derived_names:
            notes.append(
                {
                    "code": "names_derived",
                    "count": count,
                    "message": f"{count:,} <testcase>(s) had no name and were named after their "
                    'suite and position ("[unnamed N]").',
                }
            )
        return notes

    def __iter__(self) -> Iterator[ParsedCase]:
        try:
            yield from self._cases()
        except DefusedXmlException as exc:
            raise XMLForbidden(
                "The report declares a DTD or entities, which are refused for safety.",
                detail={"reason": type(exc).__name__},
            ) from None
        except ParseError as exc:
            if self.source.size == 0:
                raise InvalidJUnit("The body is empty: send the JUnit XML report.") from None
            raise InvalidJUnit(f"The report is not well-formed XML: {exc}.") from None

    def _cases(self) -> Iterator[ParsedCase]:
        elements, suite_names = [], []
        # Testcases seen so far in each open suite (the document itself at the bottom): the
        # position that names a nameless testcase.
        positions = [0]
        events = iterparse(self.filtered, events=("start", "end"), forbid_dtd=True)
        for event, elem in events:
            tag = _local(elem.tag)
            if event == "start":
                if not elements and tag not in ("testsuites", "testsuite"):
                    raise InvalidJUnit(f"The root element is <{tag}>, not <testsuites>.")
                if not elements:
                    self.name = elem.get("name", "")[:NAME_MAX]
                if tag == "testsuite":
                    self.suites += 1
                    suite_names.append(elem.get("name", ""))
                    positions.append(0)
                elif tag == "testcase":
                    positions[-1] += 1
                elements.append(elem)
                continue
            elements.pop()
            parent = elements[-1] if elements else None
            if tag == "testcase" and parent is not None:
                case = _parsed(elem, _suite_name(suite_names), positions[-1])
                self.derived_names += bool(case.details.get("derived_name"))
                yield case
            elif tag == "testsuite":
                suite_names.pop()
                positions.pop()
            if parent is not None and _local(parent.tag) in ("testsuites", "testsuite"):
                # Done with this child of a suite: drop it so the tree never grows.
                elem.clear()
                parent.remove(elem)


def junit_cases_from_bytes(data: bytes, *, limit: int = MAX_IN_MEMORY_BYTES) -> list[ParsedCase]:
    """Every testcase of a report held in memory, in file order.

    Raises InvalidJUnit (not XML, not JUnit), XMLForbidden (a DTD or entities) and ImportTooLarge (over `limit`): ResultsErrors, which an upload answers as a 4xx
    and the `command` action records as its step's error."""
    return list(JUnitReader(io.BytesIO(data), limit))


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _suite_name(names: list[str]) -> str:
    """The innermost named suite (nested suites: Ant, NUnit converters)."""
    return next((n for n in reversed(names) if n), "")[:NAME_MAX]


def _parsed(elem, suite: str, position: int) -> ParsedCase:
    name = elem.get("name", "").strip()
    classname = elem.get("classname", "").strip()
    derived = not name
    if derived:
        # Stable across runs of the same report layout, so the case keeps its history; the
        # suite stands in for a missing classname so that two suites' nameless tests differ.
        name, classname = f"[unnamed {position}]", classname or suite
    case = ParsedCase(
        suite=suite,
        classname=classname,
        name=name,
        key=case_key(classname, name),
        outcome=Outcome.PASSED,
        duration_ms=_duration_ms(elem.get("time")),
    )
    details = case.details
    reruns = []
    for child in elem:
        tag = _local(child.tag)
        if tag in ("failure", "error") and case.outcome in (Outcome.PASSED, Outcome.SKIPPED):
            case.outcome = Outcome.FAILED if tag == "failure" else Outcome.ERROR
            case.message = _message(child)
            _put(details, "type", child.get("type", ""))
            _put(details, "text", _trim((child.text or "").strip(), TEXT_MAX))
        elif tag == "skipped" and case.outcome == Outcome.PASSED:
            case.outcome = Outcome.SKIPPED
            case.message = _message(child)
        elif tag in _RERUNS:
            reruns.append({"kind": tag, "message": _message(child), "type": child.get("type", "")})
        elif tag in ("system-out", "system-err"):
            _put(details, tag.replace("-", "_"), _trim((child.text or "").strip(), TEXT_MAX))
        elif tag == "properties":
            props = {p.get("name", ""): p.get("value", p.text or "") for p in child}
            _put(details, "properties", dict(list(props.items())[:MAX_PROPERTIES]))
    case.retries = min(len(reruns), 32767)
    if reruns:
        details["reruns"] = reruns[:MAX_RERUNS]
    for attr in ("file", "line"):
        _put(details, attr, elem.get(attr, ""))
    if derived:
        details["derived_name"] = True
    if split_key(case.key) != (classname, name):
        # Exports rebuild classname and name from the key; keep them only where that would not
        # give the originals back (a dot in the name, characters the key refused).
        details["classname"], details["name"] = classname, name
    return case


def _put(details: dict, key: str, value) -> None:
    if value:
        details[key] = value


def _message(elem) -> str:
    message = elem.get("message") or (elem.text or "").strip().split("\n", 1)[0]
    if not message:
        stack = next((c.text for c in elem if _local(c.tag) == "stackTrace"), "") or ""
        message = stack.strip().split("\n", 1)[0]
    return _trim(message, MESSAGE_MAX)


def _trim(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + f"... [{len(text) - limit} more]"


def _duration_ms(raw: str | None) -> int | None:
    """Seconds as runners write them ("0.012", "1,234.5" from old Surefire) -> milliseconds."""
    if not raw:
        return None
    try:
        seconds = float(raw.replace(",", "").strip())
    except ValueError:
        return None
    if not math.isfinite(seconds) or seconds < 0:
        return None
    return min(round(seconds * 1000), 2**31 - 1)


# --- writing -----------------------------------------------------------------------------------


@dataclass
class SuiteTotals:
    name: str
    tests: int = 0
    failures: int = 0
    errors: int = 0
    skipped: int = 0
    time_ms: int = 0


@dataclass
class ExportCase:
    """One <testcase> to write (results.reports builds these from executions or imports)."""

    suite: str
    classname: str
    name: str
    outcome: str
    duration_ms: int | None
    message: str = ""
    failure_type: str = ""
    text: str = ""
    system_out: str = ""
    system_err: str = ""
    reruns: list = field(default_factory=list)
    properties: dict = field(default_factory=dict)


def junit_chunks(
    name: str, suites: list[SuiteTotals], cases: Iterable[ExportCase], properties: dict
) -> Iterator[str]:
    """The XML document, a piece at a time. `cases` come grouped by suite, in `suites` order."""
    out = StringIO()
    xml = XMLGenerator(out, encoding="utf-8", short_empty_elements=True)
    xml.startDocument()
    total = _sum(suites)
    xml.startElement("testsuites", _attrs(name, total))
    current = None
    for case in cases:
        if current is None or case.suite != current.name:
            if current is not None:
                xml.endElement("testsuite")
            current = next(s for s in suites if s.name == case.suite)
            xml.startElement("testsuite", _attrs(current.name, current))
            _properties(xml, properties)
        _testcase(xml, case)
        if out.tell() > 64 * 1024:
            yield _drain(out)
    if current is not None:
        xml.endElement("testsuite")
    xml.endElement("testsuites")
    xml.endDocument()
    yield _drain(out)


def _drain(out: StringIO) -> str:
    text = out.getvalue()
    out.seek(0)
    out.truncate()
    return text


def _sum(suites: list[SuiteTotals]) -> SuiteTotals:
    total = SuiteTotals("")
    for s in suites:
        total.tests += s.tests
        total.failures += s.failures
        total.errors += s.errors
        total.skipped += s.skipped
        total.time_ms += s.time_ms
    return total


def _attrs(name: str, totals: SuiteTotals) -> dict:
    return {
        "name": _clean(name),
        "tests": str(totals.tests),
        "failures": str(totals.failures),
        "errors": str(totals.errors),
        "skipped": str(totals.skipped),
        "time": f"{totals.time_ms / 1000:.3f}",
    }


def _properties(xml: XMLGenerator, properties: dict) -> None:
    if not properties:
        return
    xml.startElement("properties", {})
    for key, value in properties.items():
        xml.startElement("property", {"name": _clean(key), "value": _clean(str(value))})
        xml.endElement("property")
    xml.endElement("properties")


def _testcase(xml: XMLGenerator, case: ExportCase) -> None:
    attrs = {"name": _clean(case.name)}
    if case.classname:
        attrs["classname"] = _clean(case.classname)
    if case.duration_ms is not None:
        attrs["time"] = f"{case.duration_ms / 1000:.3f}"
    xml.startElement("testcase", attrs)
    tag = {Outcome.FAILED: "failure", Outcome.ERROR: "error", Outcome.SKIPPED: "skipped"}.get(
        case.outcome
    )
    if tag:
        _element(xml, tag, {"message": case.message, "type": case.failure_type}, case.text)
    for rerun in case.reruns:
        kind = rerun.get("kind") or (
            "flakyFailure" if case.outcome == Outcome.PASSED else "rerunFailure"
        )
        _element(xml, kind, {"message": rerun.get("message", ""), "type": rerun.get("type", "")})
    _properties(xml, case.properties)
    if case.system_out:
        _element(xml, "system-out", {}, case.system_out)
    if case.system_err:
        _element(xml, "system-err", {}, case.system_err)
    xml.endElement("testcase")


def _element(xml: XMLGenerator, tag: str, attrs: dict, text: str = "") -> None:
    xml.startElement(tag, {k: _clean(v) for k, v in attrs.items() if v})
    if text:
        xml.characters(_clean(text))
    xml.endElement(tag)


def _clean(text: str) -> str:
    return _XML_BAD_CHAR.sub("\ufffd", text)
