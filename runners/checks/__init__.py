"""The registry of Python checks that `python` steps call by name.

A check is a function `check(ctx, **args)`: it returns what it observed (the step passes and
records it), raises CheckFailed or AssertionError when the system is not as expected (the step
fails), and any other exception makes the step an error. Register one with `@check("name")` in a
module that is imported: the built-ins below, or a module listed in the IB_CHECK_MODULES setting.

    from runners.checks import CheckFailed, check

    @check("queue_is_empty")
    def queue_is_empty(ctx, *, name: str):
        depth = my_broker.depth(name)
        if depth:
            raise CheckFailed(f"{depth} messages waiting in {name}", actual={"depth": depth})
        return {"depth": 0}
"""

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module

from django.conf import settings


@dataclass(frozen=True)
class Check:
    name: str
    func: Callable
    description: str = ""


class CheckFailed(Exception):
    """The check ran and found a problem: the step fails (rather than errors)."""

    def __init__(self, message: str, *, actual: object = None, suggestion: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.actual = actual
        self.suggestion = suggestion


_CHECKS: dict[str, Check] = {}
_loaded = False


def check(name: str):
    """Decorator: register `func` as the check `name` (a later registration replaces it)."""

    def register(func: Callable) -> Callable:
        doc = (func.__doc__ or "").strip().split("\n")[0]
        _CHECKS[name] = Check(name, func, doc)
        return func

    return register


def _load() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    for module in [
        "runners.checks.builtins",
        *getattr(settings, "IB_CHECK_MODULES", []),
    ]:
        import_module(module)


def get_check(name: str) -> Check | None:
    _load()
    return _CHECKS.get(name)


def all_checks() -> dict[str, Check]:
    _load()
    return dict(_CHECKS)


def check_arguments_error(name: str, args: dict) -> str | None:
    """Whether `args` fit the check's signature: a missing or unknown argument is reported when
    the case is saved, not when it runs."""
    found = get_check(name)
    if found is None:
        return f"unknown check {name!r}; known checks: {', '.join(sorted(all_checks())) or 'none'}."
    try:
        inspect.signature(found.func).bind(None, **args)
    except TypeError as exc:
        return f"check {name!r}: {exc}."
    return None
