"""How actions wait for slow work (a request, a browser call, a DNS look-up) without ignoring
a cancel or a step timeout.

The watchdog thread stops a run by setting `ctx.cancel` and running the clean-ups; an action that
is blocked in a library call would only notice when that call returns. These helpers bound every
wait by the step's budget and wake up as soon as the run is stopped.
"""

import threading

from runners.context import RunContext

# How much longer than the step's budget an action waits before giving up by itself: the
# watchdog polls every IB_CANCEL_POLL_SECONDS, so with this margin it is the watchdog that reports
# a step timeout (execution timed_out, step named in the reason), not an action's own error.
STEP_GRACE_SECONDS = 1.0
_POLL_SECONDS = 0.05


def step_budget(ctx: RunContext) -> float | None:
    """Seconds left for the current step (its timeout, the run's default, the deadline)."""
    if ctx.current_step is not None and ctx.current_step[2] is not None:
        return ctx.current_step[2]
    return ctx.step_timeout_for(None)


def action_timeout(ctx: RunContext, requested: float) -> float:
    """The timeout an action uses for its own work: `requested` when it comes first (the action
    then reports it), otherwise a little more than the step's budget (the watchdog reports it)."""
    budget = step_budget(ctx)
    if budget is None or requested <= budget:
        return requested
    return budget + STEP_GRACE_SECONDS


def run_interruptible(ctx: RunContext, func, *, name: str = "ib-step-call"):
    """Call `func()` in a helper thread and return its result (or raise its exception); raise
    Cancelled as soon as the run is stopped. An abandoned call ends by its own (bounded) timeout,
    helped by the clean-ups that close its client."""
    result: dict = {}
    done = threading.Event()

    def target() -> None:
        try:
            result["value"] = func()
        except BaseException as exc:  # handed to the caller below
            result["error"] = exc
        finally:
            done.set()

    threading.Thread(target=target, name=name, daemon=True).start()
    while not done.wait(_POLL_SECONDS):
        ctx.check_cancel()
    ctx.check_cancel()
    if "error" in result:
        raise result["error"]
    return result["value"]
