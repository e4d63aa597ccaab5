"""The context a runner and its actions get: variables, cancellation, deadlines, clean-ups.

The watchdog thread of the worker process sets `cancel` when the execution is cancelled or its
deadline passes; actions check it at step boundaries (and long waits wake up on it), and the
clean-ups registered here kill whatever a step started (a child process, a browser).
"""

import contextlib
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

_VARIABLE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_.]*)\s*\}\}")


class StopKind:
    CANCEL = "cancel"  # a person (or fail-fast) cancelled it
    TIMEOUT = "timeout"  # the execution's deadline passed
    STEP_TIMEOUT = "step_timeout"  # one step overran its own timeout
    LEASE_LOST = "lease_lost"  # the reaper gave the execution to another attempt


class Cancelled(Exception):
    """Raised inside a runner when the execution must stop (see StopKind).

    So that a trace says what really happened: `started` is set once the step's action was
    called (it may have had effects: a request sent, a process started), and an action that
    knows what it did before the stop says so in `outcome` (runners.actions.http: the
    request went out, or its response even came back)."""

    def __init__(self, reason: str, kind: str = StopKind.CANCEL) -> None:
        super().__init__(reason)
        self.reason = reason
        self.kind = kind
        self.started = False
        self.outcome = None  # a StepOutcome, set by an action that knows


@dataclass
class RunContext:
    execution_id: int
    attempt_id: int
    project_id: int
    attempt_number: int = 1
    parameters: dict = field(default_factory=dict)
    allowed_hosts: list[str] = field(default_factory=list)
    deadline: float | None = None  # time.monotonic() value
    step_timeout: float | None = None
    cancel: threading.Event = field(default_factory=threading.Event)
    cancel_reason: str = ""
    stop_kind: str = ""
    current_step: tuple[str, float, float | None] | None = None  # name, started, timeout
    variables: dict = field(default_factory=dict)
    cleanups: list[Callable[[], None]] = field(default_factory=list)
    resources: dict = field(default_factory=dict)  # e.g. the execution's browser context

    def __post_init__(self) -> None:
        # Run parameters win over built-in variables of the same name: the user said so.
        self.variables = {**self.variables, **self.parameters}

    def request_stop(self, reason: str, kind: str = StopKind.CANCEL) -> None:
        """Called from the watchdog thread: flag the stop, then kill what the step started so a
        blocking call returns now rather than at its own timeout."""
        if self.cancel.is_set():
            return
        self.cancel_reason, self.stop_kind = reason, kind
        self.cancel.set()
        self.run_cleanups()

    def check_cancel(self) -> None:
        if self.cancel.is_set():
            raise Cancelled(self.cancel_reason or "cancelled", self.stop_kind or StopKind.CANCEL)

    def sleep(self, seconds: float) -> None:
        """A wait that wakes up at once on cancel."""
        self.cancel.wait(timeout=max(0.0, seconds))
        self.check_cancel()

    def step_timeout_for(self, step_timeout: float | None) -> float | None:
        """The time a step may take: its own timeout, the run's default, and what is left."""
        candidates = [t for t in (step_timeout, self.step_timeout, self.remaining()) if t]
        return max(0.001, min(candidates)) if candidates else None

    def remaining(self) -> float | None:
        return None if self.deadline is None else self.deadline - time.monotonic()

    def on_cleanup(self, func: Callable[[], None]) -> None:
        self.cleanups.append(func)

    def run_cleanups(self) -> None:
        while self.cleanups:
            func = self.cleanups.pop()
            with contextlib.suppress(Exception):  # best effort: it may already be gone
                func()

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
