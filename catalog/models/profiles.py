"""Runner profiles: the only commands a `command` step may run.

A maintainer defines each profile (argv template, working directory, environment, timeout, where
its JUnit XML lands); a step names a profile and fills in its whitelisted parameters. Nothing a
case author or an API client types ever becomes a command line by itself.
"""

import re
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from catalog.models.projects import Project

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
# Filled in by the engine for every run: the worker's Python, and a fresh folder for the run's
# output files (JUnit XML, logs) that is deleted after the step.
BUILTIN_PLACEHOLDERS = ("python", "output_dir")
# What a parameter value may look like when the profile gives no pattern: no spaces, and no
# leading "-", so a value can never turn into an option of the command.
DEFAULT_PARAMETER_PATTERN = r"[A-Za-z0-9_./][A-Za-z0-9_.,:/=@+\-\[\]]*"
_PARAMETER_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# A parameter is either a pattern ("" for the default) or {"pattern": ..., "unconfined": true}.
_SPEC_KEYS = {"pattern", "unconfined"}
# Where a tool may read a path inside one argument: `make CC=/x`, `--opt=../x`, `a,b:c`.
_PATH_SEPARATORS = re.compile(r"[=:,;@\s]")
MAX_TIMEOUT_SECONDS = 24 * 3600


def confinement_error(name: str, value: str, working_dir: Path) -> str | None:
    """Why `value` could make the command reach outside `working_dir`, or None.

    A value is judged as a whole and piece by piece (split where a tool may start a path:
    `=`, `:`, `,`, `;`, `@`, spaces): no piece may be absolute, start with `~`, hold a `..`
    segment, or resolve (symbolic links followed) outside the working directory. A step's value
    ran an uploaded file under pytest before this existed (security finding 2)."""
    refused = f"{value!r} is refused for {name!r}"
    if "\0" in value:
        return f"{refused}: it holds a NUL character."
    root = working_dir.resolve()
    for piece in [value, *_PATH_SEPARATORS.split(value)]:
        if piece.startswith("/"):
            return f"{refused}: absolute paths are not allowed ({piece!r})."
        if piece.startswith("~"):
            return f"{refused}: paths may not start with '~'."
        if ".." in piece.split("/"):
            return f"{refused}: '..' is not allowed in a path."
        if piece and not (root / piece).resolve().is_relative_to(root):
            return f"{refused}: it leads outside the profile's working directory."
    return None


class RunnerProfile(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="runner_profiles")
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    argv = models.JSONField(
        help_text='The command as a list, e.g. ["{{ python }}", "-m", "pytest", "{{ target }}"]. '
        "{{ name }} placeholders: python, output_dir, and the allowed parameters.",
    )
    allowed_parameters = models.JSONField(
        default=dict,
        blank=True,
        help_text="Parameters a step may fill in: name -> regular expression the whole value must "
        "match (empty: letters, digits and ._,:/=@+-[] with no leading '-'). Values stay inside "
        'the working directory unless the parameter is {"pattern": "...", "unconfined": true}.',
    )
    working_dir = models.CharField(
        max_length=500,
        blank=True,
        help_text="Where the command runs; relative paths start at the project's base directory.",
    )
    env = models.JSONField(
        default=dict,
        blank=True,
        help_text="Extra environment variables. The worker's own environment is not passed on.",
    )
    timeout_seconds = models.PositiveIntegerField(default=600)
    junit_xml = models.CharField(
        max_length=500,
        blank=True,
        help_text="Path of the JUnit XML the command writes, e.g. {{ output_dir }}/junit.xml; "
        "each test case in it becomes a result attached to a catalog case.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["project", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "name"], name="runner_profile_name_unique_per_project"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.project})"

    # --- validation -------------------------------------------------------------------------

    def clean(self) -> None:
        errors = {}
        if (
            not isinstance(self.argv, list)
            or not self.argv
            or not all(isinstance(a, str) and a for a in self.argv)
        ):
            errors["argv"] = "Give the command as a non-empty list of strings."
        if not isinstance(self.env, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in self.env.items()
        ):
            errors["env"] = "Give the environment as an object of strings."
        parameter_error = self._parameters_error()
        if parameter_error:
            errors["allowed_parameters"] = parameter_error
        if not 1 <= (self.timeout_seconds or 0) <= MAX_TIMEOUT_SECONDS:
            errors["timeout_seconds"] = f"Between 1 and {MAX_TIMEOUT_SECONDS} seconds."
        if not errors:
            unknown = self.placeholders() - set(BUILTIN_PLACEHOLDERS) - set(self.allowed_parameters)
            if unknown:
                errors["argv"] = (
                    f"Unknown placeholder(s) {', '.join(sorted(unknown))}: add them to the "
                    f"allowed parameters, or use {', '.join(BUILTIN_PLACEHOLDERS)}."
                )
        if errors:
            raise ValidationError(errors)

    def _parameters_error(self) -> str | None:
        if not isinstance(self.allowed_parameters, dict):
            return "Give an object of parameter names to patterns."
        for name, spec in self.allowed_parameters.items():
            if not _PARAMETER_NAME.match(name) or name in BUILTIN_PLACEHOLDERS:
                return f"{name!r} cannot be a parameter name."
            if isinstance(spec, dict) and (
                set(spec) - _SPEC_KEYS or not isinstance(spec.get("unconfined", False), bool)
            ):
                return (
                    f'{name!r}: give {{"pattern": "...", "unconfined": true}} '
                    '("unconfined" is true or false).'
                )
            pattern = spec.get("pattern", "") if isinstance(spec, dict) else spec
            if not isinstance(pattern, str):
                return f"The pattern of {name!r} must be text."
            try:
                re.compile(pattern)
            except re.error as exc:
                return f"The pattern of {name!r} is not a regular expression: {exc}"
        return None

    # --- rendering (no I/O) -----------------------------------------------------------------

    def placeholders(self) -> set[str]:
        texts = [*self.argv, *self.env.values(), self.junit_xml]
        return {name for text in texts for name in PLACEHOLDER.findall(text)}

    def working_path(self) -> Path:
        """Where the command runs: `working_dir`, relative to the project's base directory."""
        path = Path(self.working_dir or ".")
        return path if path.is_absolute() else Path(settings.BASE_DIR) / path

    def confined(self, name: str) -> bool:
        spec = self.allowed_parameters[name]
        return not (isinstance(spec, dict) and spec.get("unconfined", False))

    def parameter_error(self, name: str, value: str) -> str | None:
        """Why `value` may not fill parameter `name`, or None: the pattern, then (unless the
        profile declares the parameter unconfined) the confinement to the working directory."""
        if name not in self.allowed_parameters:
            return f"Profile {self.name!r} has no parameter {name!r}."
        spec = self.allowed_parameters[name]
        pattern = (spec.get("pattern", "") if isinstance(spec, dict) else spec) or (
            DEFAULT_PARAMETER_PATTERN
        )
        if not re.fullmatch(pattern, value):
            return f"{value!r} is not an allowed value for {name!r} (must match {pattern})."
        if self.confined(name):
            return confinement_error(name, value, self.working_path())
        return None

    def joined_parameters_error(self, values: dict[str, str]) -> str | None:
        """Confined values that are harmless one by one can meet in one argument: "{{ a }}{{ b }}"
        with "." and "." is "..". Each template text is judged from its first confined
        placeholder to its last, filled in."""
        confined = {n for n in self.allowed_parameters if self.confined(n)}
        for text in [*self.argv, *self.env.values(), self.junit_xml]:
            spots = [m for m in PLACEHOLDER.finditer(text) if m.group(1) in confined]
            if len(spots) > 1:
                span = text[spots[0].start() : spots[-1].end()]
                filled = PLACEHOLDER.sub(lambda m: values.get(m.group(1), ""), span)
                problem = confinement_error(span, filled, self.working_path())
                if problem:
                    return problem
        return None

    def render(self, values: dict[str, str]) -> tuple[list[str], dict[str, str], str]:
        """(argv, env, junit_xml) with every placeholder filled from `values`, which must hold
        the built-ins and checked parameter values. Each argv item stays one argument: nothing
        is ever parsed by a shell."""

        def fill(text: str) -> str:
            return PLACEHOLDER.sub(lambda m: values[m.group(1)], text)

        return (
            [fill(a) for a in self.argv],
            {k: fill(v) for k, v in self.env.items()},
            fill(self.junit_xml),
        )
