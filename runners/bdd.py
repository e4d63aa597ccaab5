"""BDD cases: a Gherkin feature, run scenario by scenario through the step definitions.

The official parser (gherkin-official) reads the feature and its pickle compiler expands it the
way every Cucumber does: Background steps copied into each scenario, Rules, one scenario per row
of a Scenario Outline's Examples, data tables and doc strings attached to their steps. Each pickle
step becomes one trace entry (numbered across scenarios) that names its scenario.

As in Cucumber: a step with no definition is `undefined` (the error carries a snippet to paste), a
step with several is an `error` that names them ("ambiguous"), and once a step of a scenario did
not pass, the rest of that scenario is skipped. Scenarios are independent: each starts from the
run's variables and a fresh `world`. A scenario tagged @skip is recorded as skipped.
"""

from django.utils import timezone
from gherkin.pickles.compiler import Compiler

from executions.models import ExecutionStatus
from executions.outcome import StepOutcome, StepStatus, step_record
from runners.base import (
    RunResult,
    StepRecorder,
    call_action,
    interrupted_outcome,
)
from runners.context import Cancelled, RunContext
from runners.gherkin_source import parse_feature
from runners.stepdefs import find_definitions, snippet

SKIP_TAGS = {"@skip", "@ignore"}
_CONTINUE = (StepStatus.PASSED, StepStatus.WARNING)


def compile_feature(source: str, uri: str = "feature") -> tuple[list[dict], dict]:
    """(pickles, keywords by AST step id) of a feature's text. A pickle of a Scenario Outline's
    example row carries `example`, the row as "name=value, ...", so the trace can tell the
    rows apart (they share the outline's name)."""
    document = parse_feature(source)
    pickles = Compiler().compile({**document, "uri": uri})
    rows = _example_rows(document["feature"])
    for pickle in pickles:
        labels = [rows[node] for node in pickle.get("astNodeIds", []) if node in rows]
        if labels:
            pickle["example"] = labels[-1]
    return pickles, _keywords(document["feature"])


def _example_rows(feature: dict) -> dict[str, str]:
    """Every Examples row by its AST id, as "header=value, ..." (what a tester reads)."""
    found: dict[str, str] = {}

    def walk(children: list[dict]) -> None:
        for child in children:
            for examples in child.get("scenario", {}).get("examples", []):
                header = [
                    cell["value"] for cell in (examples.get("tableHeader") or {}).get("cells", [])
                ]
                for row in examples.get("tableBody", []):
                    values = [cell["value"] for cell in row["cells"]]
                    found[row["id"]] = ", ".join(
                        f"{h}={v}" for h, v in zip(header, values, strict=False)
                    )
            if "rule" in child:
                walk(child["rule"]["children"])

    walk(feature["children"])
    return found


def _keywords(feature: dict) -> dict[str, str]:
    """The keyword ("Given ", "And ") of every AST step: pickles keep only the text."""
    found: dict[str, str] = {}

    def walk(children: list[dict]) -> None:
        for child in children:
            for kind in ("background", "scenario"):
                for ast_step in child.get(kind, {}).get("steps", []):
                    found[ast_step["id"]] = ast_step["keyword"]
            if "rule" in child:
                walk(child["rule"]["children"])

    walk(feature["children"])
    return found


class BddRunner:
    def run(self, ctx: RunContext, case, recorder: StepRecorder) -> RunResult:
        pickles, keywords = compile_feature(case.feature, uri=f"{case.key}.feature")
        recorder.total(sum(len(p["steps"]) for p in pickles))
        base_variables = dict(ctx.variables)
        order = 0
        counts: dict[str, int] = {}
        failed: list[str] = []
        broken: list[str] = []
        for number, pickle in enumerate(pickles, start=1):
            ctx.variables = dict(base_variables)
            ctx.resources["world"] = {}
            tags = [tag["name"] for tag in pickle["tags"]]
            stop_reason = "the scenario is tagged @skip" if SKIP_TAGS & set(tags) else ""
            for pickle_step in pickle["steps"]:
                order += 1
                keyword = keywords.get(pickle_step["astNodeIds"][0], "")
                scenario = _ScenarioStep(order, pickle["name"], tags, keyword, pickle_step)
                scenario.number, scenario.example = number, pickle.get("example", "")
                if stop_reason:
                    record = recorder.record(
                        scenario.record(_skipped(stop_reason), timezone.now(), 0.0)
                    )
                else:
                    record = self._run_step(ctx, scenario, recorder)
                counts[record["status"]] = counts.get(record["status"], 0) + 1
                if record["status"] == StepStatus.SKIPPED:
                    continue
                if record["status"] not in _CONTINUE:
                    stop_reason = f"an earlier step of the scenario is {record['status']}"
                    summary = f"{scenario.name}: {(record['error'] or {}).get('message', '')}"
                    (failed if record["status"] == StepStatus.FAILED else broken).append(summary)
        if failed:
            return RunResult(ExecutionStatus.FAILED, failed[0])
        if broken:
            return RunResult(ExecutionStatus.ERROR, broken[0])
        tally = ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "none"
        return RunResult(ExecutionStatus.PASSED, f"{len(pickles)} scenarios; steps: {tally}")

    def _run_step(self, ctx: RunContext, scenario: "_ScenarioStep", recorder) -> dict:
        started_at = timezone.now()
        found = find_definitions(scenario.text)
        if len(found) != 1:
            outcome = _undefined(scenario) if not found else _ambiguous(scenario, found)
            return recorder.record(scenario.record(outcome, started_at, 0.0))
        definition, arguments = found[0]
        scenario.definition = f"{definition.expression} ({definition.location})"
        call = _call(definition.func, ctx, arguments, scenario.argument)
        try:
            outcome, elapsed = call_action(
                ctx, call, {}, name=scenario.name, timeout=ctx.step_timeout_for(None)
            )
        except Cancelled as stop:
            # The trace shows the step the run stopped in and why, as for GENERIC cases.
            interrupted = interrupted_outcome(stop)
            if interrupted is not None:
                elapsed = (timezone.now() - started_at).total_seconds()
                recorder.record(scenario.record(interrupted, started_at, elapsed))
            raise
        ctx.variables.update(outcome.captured)
        return recorder.record(scenario.record(outcome, started_at, elapsed))


def _call(func, ctx: RunContext, arguments: list, argument: dict):
    """The action-shaped callable (ctx, params) that call_action runs for a definition."""

    def run(ctx: RunContext, _params: dict) -> StepOutcome:
        values = [ctx.render(a) if isinstance(a, str) else a for a in arguments]
        extra = {}
        if "dataTable" in argument:
            rows = argument["dataTable"]["rows"]
            extra["table"] = [[ctx.render(cell["value"]) for cell in row["cells"]] for row in rows]
        if "docString" in argument:
            extra["doc"] = ctx.render(argument["docString"]["content"])
        try:
            result = func(ctx, *values, **extra)
        except AssertionError as exc:
            return StepOutcome.failed(str(exc) or "assertion failed")
        return result if isinstance(result, StepOutcome) else StepOutcome()

    return run


class _ScenarioStep:
    """One pickle step and what its trace entry says about it."""

    def __init__(self, order: int, scenario: str, tags: list, keyword: str, pickle_step: dict):
        self.order = order
        self.scenario = scenario
        self.tags = tags
        self.keyword = keyword
        self.text = pickle_step["text"]
        self.argument = pickle_step.get("argument", {})
        self.definition = ""
        self.number = 0  # which scenario (pickle) of the feature, from 1: the trace's groups
        self.example = ""  # an outline's row, "name=value, ..."

    @property
    def name(self) -> str:
        return f"{self.scenario} › {self.keyword}{self.text}"

    def record(self, outcome: StepOutcome, started_at, elapsed: float) -> dict:
        entry = step_record(
            order=self.order,
            name=self.name,
            kind="gherkin",
            outcome=outcome,
            started_at=started_at,
            elapsed=elapsed,
            input={"text": self.text, **_argument_input(self.argument)},
        )
        entry.update(scenario=self.scenario, keyword=self.keyword.strip(), tags=self.tags)
        entry.update(scenario_number=self.number)
        if self.example:
            entry["example"] = self.example
        if self.definition:
            entry["definition"] = self.definition
        return entry


def _argument_input(argument: dict) -> dict:
    found = {}
    if "dataTable" in argument:
        found["table"] = [
            [c["value"] for c in row["cells"]] for row in argument["dataTable"]["rows"]
        ]
    if "docString" in argument:
        found["doc"] = argument["docString"]["content"]
    return found


def _skipped(reason: str) -> StepOutcome:
    return StepOutcome(status=StepStatus.SKIPPED, actual=f"not run: {reason}")


def _undefined(scenario: _ScenarioStep) -> StepOutcome:
    code = snippet(
        scenario.text,
        table="dataTable" in scenario.argument,
        doc="docString" in scenario.argument,
    )
    return StepOutcome(
        status=StepStatus.UNDEFINED,
        error={
            "type": "UndefinedStep",
            "message": f"Undefined step: {scenario.keyword}{scenario.text}",
            "suggestion": "Add a step definition in a module listed in IB_STEP_MODULES:\n\n"
            "from runners.stepdefs import step\n\n" + code,
        },
    )


def _ambiguous(scenario: _ScenarioStep, found: list) -> StepOutcome:
    listed = "\n".join(f"  {d.expression!r} ({d.location})" for d, _ in found)
    return StepOutcome(
        status=StepStatus.ERROR,
        error={
            "type": "AmbiguousStep",
            "message": f"Ambiguous step: {scenario.keyword}{scenario.text!r} matches "
            f"{len(found)} step definitions:\n{listed}",
            "suggestion": "Make one of the expressions more specific, or remove one of them.",
        },
    )
