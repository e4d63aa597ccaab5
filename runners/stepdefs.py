"""Step definitions: bind Gherkin step text to code, as Cucumber does.

    from runners.stepdefs import step

    @step("I send a {word} request to {string}")      # a Cucumber expression
    def send(ctx, method, url): ...

    @step(r"^the cart holds (\\d+) items?$")           # a regular expression (^...$ or re.compile)
    def cart_holds(ctx, count, table=None): ...

A definition gets the RunContext, then one argument per parameter ({int} arrives as int), then
`table` (list of rows, each a list of cells) and/or `doc` (text) when the step has them. It returns
None (passed) or a StepOutcome; AssertionError makes it fail, any other exception an error.
`ctx.resources["world"]` is a dict that lives for one scenario (the last response, for example).

Built-in definitions live in runners.stepdefs_builtin; more come from the modules in the
IB_STEP_MODULES setting. Text that matches no definition is "undefined" (with a snippet to paste),
text that matches several is "ambiguous" (an error naming them).
"""

import builtins
import keyword
import re
from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module

from cucumber_expressions.expression import CucumberExpression
from cucumber_expressions.expression_generator import CucumberExpressionGenerator
from cucumber_expressions.parameter_type_registry import ParameterTypeRegistry
from cucumber_expressions.regular_expression import RegularExpression
from django.conf import settings

_parameter_types = ParameterTypeRegistry()


@dataclass(frozen=True)
class StepDefinition:
    expression: str
    func: Callable
    matcher: object  # CucumberExpression or RegularExpression
    location: str  # "module:line", shown when a step is ambiguous

    def match(self, text: str) -> list | None:
        arguments = self.matcher.match(text)
        return None if arguments is None else [argument.value for argument in arguments]


_DEFINITIONS: list[StepDefinition] = []
_loaded = False


def _is_regex(expression: str | re.Pattern) -> bool:
    return (
        isinstance(expression, re.Pattern) or expression.startswith("^") or expression.endswith("$")
    )


def step(expression: str | re.Pattern):
    """Decorator: register `func` for step text matching `expression`."""

    def register(func: Callable) -> Callable:
        source = expression.pattern if isinstance(expression, re.Pattern) else expression
        if _is_regex(expression):
            matcher = RegularExpression(source, _parameter_types)
        else:
            matcher = CucumberExpression(source, _parameter_types)
        code = func.__code__
        location = f"{func.__module__}:{code.co_firstlineno}"
        _DEFINITIONS.append(StepDefinition(source, func, matcher, location))
        return func

    return register


def remove_step(func: Callable) -> None:
    """Unregister every definition of `func` (for tests and plugins that replace a built-in)."""
    _DEFINITIONS[:] = [d for d in _DEFINITIONS if d.func is not func]


def _load() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    for module in [
        "runners.stepdefs_builtin",
        *getattr(settings, "IB_STEP_MODULES", []),
    ]:
        import_module(module)


def all_definitions() -> list[StepDefinition]:
    _load()
    return list(_DEFINITIONS)


def find_definitions(text: str) -> list[tuple[StepDefinition, list]]:
    """Every definition that matches `text`, with its arguments: none (undefined), one, or more
    than one (ambiguous)."""
    _load()
    found = []
    for definition in _DEFINITIONS:
        arguments = definition.match(text)
        if arguments is not None:
            found.append((definition, arguments))
    return found


def snippet(text: str, *, table: bool = False, doc: bool = False) -> str:
    """The definition to paste for an undefined step, like Cucumber prints it."""
    generated = CucumberExpressionGenerator(_parameter_types).generate_expressions(text)
    expression = generated[0].source if generated else re.escape(text)
    names = _argument_names(generated[0].parameter_names if generated else [])
    extra = (["table"] if table else []) + (["doc"] if doc else [])
    arguments = ", ".join(["ctx", *names, *extra])
    quoted = expression.replace("\\", "\\\\").replace('"', '\\"')
    return (
        f'@step("{quoted}")\n'
        f"def {_function_name(text)}({arguments}):\n"
        f"    raise NotImplementedError({'write the step: ' + text!r})\n"
    )


def _argument_names(names: list[str]) -> list[str]:
    # {int} and {float} would shadow the builtins of the same name.
    return [f"{n}_value" if hasattr(builtins, n) or keyword.iskeyword(n) else n for n in names]


def _function_name(text: str) -> str:
    words = re.findall(r"[A-Za-z]+", re.sub(r'"[^"]*"|\d+', " ", text.lower()))
    name = "_".join(words)[:60].strip("_") or "step"
    return name if not keyword.iskeyword(name) else f"{name}_step"
