"""Failure signatures: the same fault gives the same signature in every run, whatever changed
around it (ids, timestamps, temp paths, ports, addresses), and different faults do not.

A signature is a SHA-1 hex digest of three normalised parts:
- the error type (`AssertionError`, `org.opentest4j.AssertionFailedError`, our steps' types such
  as `HttpStatusMismatch`), taken from the first line of the traceback when the runner gave none;
- the first line of the message;
- the innermost frames of the traceback (Python, pytest's short form, Java / Surefire, jest and
  Node), each reduced to its function and file name: the directory and the line number are left
  out, so a checkout in another directory or an edit above the failing line keeps the signature.

Normalising replaces, in this order, what varies from run to run: UUIDs, ISO and common
timestamps, temp paths (/tmp/..., pytest's tmp_path, /var/folders/...), URLs' hosts and ports,
IPv4 addresses with their port, hex ids and addresses (0x7f3a..., long hex runs such as commit
ids), then any remaining run of digits. Who calls it: result processing for engine finishes,
JUnit imports (results.imports), and the failure groups built on it (triage); the compare of
two runs reads CaseResult.signature. Pure functions, no database.
"""

import hashlib
import re
from functools import lru_cache

TOP_FRAMES = 5
MESSAGE_MAX = 300  # characters of the message's first line that count
# A traceback is read from both ends (Python's innermost frame is last, Java's and Node's
# first): the middle of a very long one never decides, and the cost per failure stays bounded.
TRACEBACK_END = 10_000

# Order matters: a UUID or a timestamp is made of digits and hex, so they go before those.
_REPLACEMENTS = [
    (
        re.compile(
            r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"
        ),
        "<uuid>",
    ),
    (
        re.compile(r"\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?\b"),
        "<time>",
    ),
    (re.compile(r"\b\d{2}:\d{2}:\d{2}(\.\d+)?\b"), "<time>"),
    (
        re.compile(
            r"(/tmp|/var/tmp|/private/var/folders|/var/folders|[A-Za-z]:\\\\?Users\\\\?[^\\\s]+"
            r"\\\\?AppData\\\\?Local\\\\?Temp)[^\s'\"):,]*"
        ),
        "<tmp>",
    ),
    (re.compile(r"\b(https?|wss?)://[^/\s'\"]+"), r"\1://<host>"),
    (re.compile(r"\b\d{1,3}(\.\d{1,3}){3}(:\d+)?\b"), "<ip>"),
    (re.compile(r"\[[0-9a-fA-F:]+\](:\d+)?"), "<ip>"),
    (re.compile(r"\b(localhost|127\.0\.0\.1):\d+\b"), r"\1:<port>"),
    (re.compile(r"\b[Pp]ort[ =:]+\d+\b"), "port <n>"),
    (re.compile(r"\b0x[0-9a-fA-F]+\b"), "<hex>"),
    (re.compile(r"\b(?=[0-9a-fA-F]*\d)(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{8,}\b"), "<hex>"),
    (re.compile(r"\d+"), "<n>"),
]
_SPACES = re.compile(r"\s+")

# Frames, innermost first once extracted. Python: 'File "/x/y.py", line 12, in func'.
_PY_FRAME = re.compile(r'^\s*File "([^"]+)", line \d+, in (\S+)', re.M)
# pytest's short tracebacks and --tb=short: 'tests/test_x.py:12: in test_foo' or ': AssertionError'.
_PYTEST_FRAME = re.compile(r"^([^\s:]+\.py):\d+:\s+(?:in\s+)?(\S+)\s*$", re.M)
# Java / Surefire: '\tat com.acme.Foo.bar(Foo.java:12)'; jest / Node: 'at fn (/x/y.js:1:2)' or 'at /x/y.js:1:2'.
_AT_FRAME = re.compile(r"^\s*at\s+(?:(\S+)\s+\((.+?)\)|(\S+))\s*$", re.M)
# The "Type: message" head of a traceback or message: dotted names ending in Error/Exception/...
_TYPE_HEAD = re.compile(
    r"^\s*(?:E\s+)?([A-Za-z_][\w.$]*(?:Error|Exception|Failure|Failed|Mismatch|Timeout|Refused))"
    r"(?::|\s*$)",
    re.M,
)


def normalise(text: str) -> str:
    """`text` with what varies between runs of the same fault replaced by placeholders."""
    for pattern, placeholder in _REPLACEMENTS:
        text = pattern.sub(placeholder, text)
    return _SPACES.sub(" ", text).strip()


def top_frames(traceback: str, limit: int = TOP_FRAMES) -> list[str]:
    """The innermost `limit` frames as 'function@file' (no directory, no line number)."""
    frames = [_frame(fn, path) for path, fn in _PY_FRAME.findall(traceback)]
    if frames:  # Python prints the innermost frame last
        return frames[::-1][:limit]
    frames = [_frame(fn, path) for path, fn in _PYTEST_FRAME.findall(traceback)]
    if frames:
        return frames[::-1][:limit]
    for fn, location, bare in _AT_FRAME.findall(traceback):
        if bare:  # 'at /x/y.js:1:2' or a Java frame 'at a.B.c(B.java:1)' with no space
            fn, _, location = bare.partition("(")
        frames.append(_frame(fn, location.rstrip(")")))
        if len(frames) == limit:
            break
    return frames


@lru_cache(maxsize=8192)  # a suite's frames repeat from failure to failure: normalise each once
def _frame(function: str, location: str) -> str:
    # "node:internal/..." and Windows paths alike: keep the file name, drop ":line:col".
    name = re.split(r"[\\/]", location)[-1]
    name = re.sub(r"(:\d+)+$", "", name)
    return f"{normalise(function)}@{normalise(name)}"


def error_type_of(error_type: str, message: str, traceback: str) -> str:
    """The given type, else the first 'SomethingError:' head of the traceback or message."""
    if error_type.strip():
        return error_type.strip()
    for text in (traceback, message):
        match = _TYPE_HEAD.search(text or "")
        if match:
            return match.group(1)
    return ""


def failure_signature(error_type: str = "", message: str = "", traceback: str = "") -> str:
    """The signature (40 hex characters) of one failure; "" when there is nothing to sign."""
    message, traceback = message or "", traceback or ""
    if len(traceback) > 2 * TRACEBACK_END:
        traceback = traceback[:TRACEBACK_END] + "\n" + traceback[-TRACEBACK_END:]
    kind = error_type_of(error_type or "", message, traceback)
    first_line = next((line for line in message.splitlines() if line.strip()), "")
    if not first_line:  # no message: the traceback's head after the type says what failed
        first_line = next((line for line in traceback.splitlines() if line.strip()), "")
        if kind and first_line.strip().startswith(kind):
            first_line = first_line.strip()[len(kind) :].lstrip(": ")
    if not (kind or first_line or traceback.strip()):
        return ""
    parts = [normalise(kind), normalise(first_line[:MESSAGE_MAX]), *top_frames(traceback)]
    return hashlib.sha1("\n".join(parts).encode(), usedforsecurity=False).hexdigest()


def signature_of_junit(message: str, details: dict) -> str:
    """A JUnit testcase's failure: `details` as results.junit writes it (type, text)."""
    return failure_signature(details.get("type", ""), message, details.get("text", ""))


def signature_of_error(error: dict | None, fallback_message: str = "", status: str = "") -> str:
    """An engine failure: the step / attempt error dict of executions.outcome.step_record
    ({type, message, traceback?}); a run that ended with no error dict (a time-out) is signed
    by its status and reason."""
    error = error or {}
    if error.get("type") or error.get("message") or error.get("traceback"):
        return failure_signature(
            error.get("type", ""), error.get("message", ""), error.get("traceback", "")
        )
    return failure_signature(status, fallback_message, "")
