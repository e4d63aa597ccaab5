"""The context a runner and its actions get: variables, cancellation, deadlines, clean-ups.

The watchdog thread of the worker process sets `cancel` when the execution is cancelled or its
deadline passes; actions check it at step boundaries (and long waits wake up on it), and the
clean-ups registered here kill whatever a step started (a child process, a browser).
"""

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

_VARIABLE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_.]*)\s*\}\}")


class Cancelled(Exception):  # noqa: N818 - a signal, not an error
    """Raised inside a runner when the execution must stop (cancel or timeout)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class StepTimedOut(Exception):  # noqa: N818
    def __init__(self, step_name: str, seconds: float) -> None:
        super().__init__(f"step {step_name!r} overran its {seconds:g} s timeout")
        self.step_name = step_name
        self.seconds = seconds


@dataclass
class RunContext:
    execution_id: int
    attempt_id: int
    project_id: int
    parameters: dict = field(default_factory=dict)
    allowed_hosts: list[str] = field(default_factory=list)
    deadline: float | None = None  # time.monotonic() value
    step_timeout: float | None = None
    cancel: threading.Event = field(default_factory=threading.Event)
    cancel_reason: str = ""
    variables: dict = field(default_factory=dict)
    cleanups: list[Callable[[], None]] = field(default_factory=list)
    resources: dict = field(default_factory=dict)  # e.g. the execution's browser context

    def __post_init__(self) -> None:
        self.variables = {**self.parameters, **self.variables}

    def request_stop(self, reason: str) -> None:
        self.cancel_reason = reason
        self.cancel.set()
        self.run_cleanups()

    def check_cancel(self) -> None:
        if self.cancel.is_set():
            raise Cancelled(self.cancel_reason or "cancelled")

    def sleep(self, seconds: float) -> None:
        """A wait that wakes up at once on cancel."""
        if self.cancel.wait(timeout=max(0.0, seconds)):
            raise Cancelled(self.cancel_reason or "cancelled")

    def remaining(self) -> float | None:
        return None if self.deadline is None else self.deadline - time.monotonic()

    def on_cleanup(self, func: Callable[[], None]) -> None:
        self.cleanups.append(func)

    def run_cleanups(self) -> None:
        while self.cleanups:
            func = self.cleanups.pop()
            try:
                func()
            except Exception:  # noqa: S110 - best effort: the thing may already be gone
                pass

    def render(self, value: object) -> object:
        """Substitute {{ name }} (and {{ a.b }} into dicts) in strings, lists and dicts."""
        if isinstance(value, str):
            whole = _VARIABLE.fullmatch(value.strip())
            if whole:  # a lone variable keeps its type (a number stays a number)
                return self._lookup(whole.group(1), value)
            return _VARIABLE.sub(lambda m: str(self._lookup(m.group(1), m.group(0))), value)
        if isinstance(value, list):
            return [self.render(v) for v in value]
        if isinstance(value, dict):
            return {k: self.render(v) for k, v in value.items()}
        return value

    def _lookup(self, dotted: str, fallback: str) -> object:
        current: object = self.variables
        for part in dotted.split("."):
            if isinstance(current, dict) and part in current:
                current = current[part]
            else:
                return fallback
        return current
