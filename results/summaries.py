"""What a run's report leads with: new failures, regressions, fixed tests, then known and triaged
failures. Failure groups live in an app above this one (triage), so it registers the function
that answers here (a registered callback, as executions.signals does for results) and reports,
run pages and the CI hook ask through run_summary() without importing it."""

from collections.abc import Callable

from results.runs import RunRef

_providers: list[Callable[[RunRef], dict]] = []


def register_run_summary(provider: Callable[[RunRef], dict]) -> None:
    if provider not in _providers:
        _providers.append(provider)


def run_summary(run: RunRef) -> dict:
    """{"new": [...], "regressed": [...], "fixed": [...], "known": [...], "counts": {...}} of a
    run, as its providers say; {} when none is installed."""
    summary: dict = {}
    for provider in _providers:
        summary.update(provider(run))
    return summary
