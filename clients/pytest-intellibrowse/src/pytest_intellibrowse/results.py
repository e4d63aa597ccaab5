"""pytest's reports as IntelliBrowse results: the setup, call and teardown reports of one test
become one result, each rerun of it (pytest-rerunfailures) an attempt of its own."""

from __future__ import annotations

import re

TEXT_MAX = 4000  # the server's limit on message, traceback, stdout and stderr
NAME_MAX = 2000  # the server's limit on a result's classname and name
# Control characters other than tab and newline are refused by the server's JSON fields' readers
# downstream (XML exports, terminals); a test's output is full of them (ANSI colours).
_CONTROL = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|[\x00-\x08\x0b-\x1f\x7f]")


def clip(text: str, limit: int = TEXT_MAX, *, keep_end: bool = False) -> str:
    """Text the server accepts: colour codes and control characters dropped, at most `limit` characters (the end
    of it for output and tracebacks, where the cause is)."""
    text = _CONTROL.sub("", text or "")
    if len(text) <= limit:
        return text
    return "…" + text[-(limit - 1) :] if keep_end else text[: limit - 1] + "…"


def names(nodeid: str) -> tuple[str, str]:
    """(classname, name) of a test, as pytest's own JUnit XML names it: "tests/test_a.py::TestB::
    test_c[1]" is ("tests.test_a.TestB", "test_c[1]")."""
    path, _, rest = nodeid.partition("::")
    parts = rest.split("::") if rest else []
    module = path[:-3] if path.endswith(".py") else path
    module = module.replace("/", ".").replace("\\", ".")
    name = parts[-1] if parts else path
    classname = ".".join([module, *parts[:-1]]) if parts else ""
    return clip(classname, NAME_MAX), clip(name, NAME_MAX)


def _message(report) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:  # a skip: (path, line, "Skipped: why")
        return str(longrepr[2])
    crash = getattr(longrepr, "reprcrash", None)
    if crash is not None and getattr(crash, "message", None):
        return str(crash.message)
    text = str(longrepr or "").strip()
    return text.splitlines()[-1] if text else ""


def _traceback(report) -> str:
    if report.longrepr is None or isinstance(report.longrepr, tuple):
        return ""
    return getattr(report, "longreprtext", "") or str(report.longrepr)


class Collector:
    """Feed it every TestReport in order (add); it answers the results (dicts in the shape of the
    reported runs API) of the attempts that report finished."""

    def __init__(self):
        self._open: dict[str, dict] = {}
        self._attempts: dict[str, int] = {}

    def add(self, report) -> list[dict]:
        """The results this report finishes (usually none or one)."""
        nodeid = report.nodeid
        finished = []
        result = self._open.get(nodeid)
        if result is not None and report.when == "setup":
            # A rerun's setup while the attempt before is still open (pytest-rerunfailures
            # logs a rerun attempt's teardown in some versions, not in others).
            finished.append(self._finish(nodeid))
            result = None
        if result is None:
            result = self._open[nodeid] = self._start(nodeid)
        result["duration_ms"] += round((getattr(report, "duration", 0) or 0) * 1000)
        return finished + self._phase(nodeid, result, report)

    def _phase(self, nodeid: str, result: dict, report) -> list[dict]:
        when = report.when
        if report.outcome == "rerun":  # pytest-rerunfailures: this attempt failed, another follows
            self._fail(result, report, "error" if when == "setup" else "failed", when)
            result["rerun"] = True
            return []
        if when == "setup":
            if report.failed:
                self._fail(result, report, "error", "setup")
            elif report.skipped:
                self._skip(result, report)
        elif when == "call":
            if report.failed:
                self._fail(result, report, "failed", "call")
            elif report.skipped:
                self._skip(result, report)
            elif hasattr(report, "wasxfail"):  # passed although expected to fail (not strict)
                result["outcome"] = "xpassed"  # counted as passed, and said so
                result["message"] = clip(f"XPASS {report.wasxfail}".strip())
        elif when == "teardown":
            if result.pop("rerun", False) and not report.failed:
                return [self._finish(nodeid)]  # the end of a failed attempt that is rerun
            if report.failed:
                worse = "failed" if result["outcome"] == "failed" else "error"
                self._fail(result, report, worse, "teardown", keep=result["outcome"] != "passed")
            return [self._finish(nodeid)]
        else:  # xdist's report for a worker that crashed while running the test
            self._fail(result, report, "error", str(when))
            return [self._finish(nodeid)]
        return []

    def unfinished(self) -> list[dict]:
        """Tests begun and never ended (an interrupted session), as results: errors."""
        left = []
        for nodeid in list(self._open):
            result = self._open[nodeid]
            if result["outcome"] == "passed":
                result["outcome"] = "error"
                result["message"] = "The session ended before this test finished."
            left.append(self._finish(nodeid))
        return left

    def _start(self, nodeid: str) -> dict:
        # No `key`: the identity is then classname + "." + name, which is what pytest's own
        # JUnit XML gives the same test, so a session streamed and one uploaded as JUnit XML
        # fill one history per test.
        classname, name = names(nodeid)
        attempt = self._attempts.get(nodeid, 0) + 1
        self._attempts[nodeid] = attempt
        return {
            "classname": classname,
            "name": name,
            "outcome": "passed",
            "duration_ms": 0,
            "attempt": min(attempt, 100),
        }

    def _finish(self, nodeid: str) -> dict:
        result = self._open.pop(nodeid)
        result.pop("rerun", None)
        return {key: value for key, value in result.items() if value != ""}

    def _skip(self, result: dict, report) -> None:
        result["outcome"] = "skipped"
        reason = _message(report)
        if hasattr(report, "wasxfail"):  # an expected failure that failed: counted as a skip
            result["outcome"] = "xfailed"
            reason = f"XFAIL {report.wasxfail}".strip()
        result["message"] = clip(reason)

    def _fail(self, result: dict, report, outcome: str, when: str, *, keep: bool = False) -> None:
        message = _message(report)
        if when != "call":
            message = f"error in {when}: {message}"
        if keep and result.get("message"):  # a teardown error after a failure: say both
            message = f"{result['message']}\n{message}"
        result["outcome"] = outcome
        result["message"] = clip(message)
        traceback = _traceback(report)
        if keep and result.get("traceback"):
            traceback = f"{result['traceback']}\n\n--- {when} ---\n{traceback}"
        result["traceback"] = clip(traceback, keep_end=True)
        result["stdout"] = clip(getattr(report, "capstdout", ""), keep_end=True)
        result["stderr"] = clip(getattr(report, "capstderr", ""), keep_end=True)


def collection_error(report) -> dict:
    """A module that could not be collected, as an error result of its own."""
    classname, name = names(report.nodeid or "collection")
    return {
        "classname": classname,
        "name": name if classname else f"{name} (collection)",
        "outcome": "error",
        "message": clip(f"error collecting: {_message(report)}"),
        "traceback": clip(_traceback(report), keep_end=True),
    }
