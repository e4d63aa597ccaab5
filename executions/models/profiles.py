"""Runner profiles: the only commands a `command` step may run.

A maintainer defines each profile (argv template, working directory, environment, timeout, where
its JUnit XML lands); a step names a profile and fills in its whitelisted parameters. Nothing a
case author or an API client types ever becomes a command line by itself.
"""

import re

from django.core.exceptions import ValidationError
from django.db import models

from executions.models.catalog import Project

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
# Filled in by the engine for every run: the worker's Python, and a fresh folder for the run's
# output files (JUnit XML, logs) that is deleted after the step.
BUILTIN_PLACEHOLDERS = ("python", "output_dir")
# What a parameter value may look like when the profile gives no pattern: no spaces, and no
# leading "-", so a value can never turn into an option of the command.
DEFAULT_PARAMETER_PATTERN = r"[A-Za-z0-9_./][A-Za-z0-9_.,:/=@+\-\[\]]*"
_PARAMETER_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
MAX_TIMEOUT_SECONDS = 24 * 3600


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
        "match (empty: letters, digits and ._,:/=@+-[] with no leading '-').",
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
        for name, pattern in self.allowed_parameters.items():
            if not _PARAMETER_NAME.match(name) or name in BUILTIN_PLACEHOLDERS:
                return f"{name!r} cannot be a parameter name."
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

    def parameter_error(self, name: str, value: str) -> str | None:
        """Why `value` may not fill parameter `name`, or None."""
        if name not in self.allowed_parameters:
            return f"Profile {self.name!r} has no parameter {name!r}."
        pattern = self.allowed_parameters[name] or DEFAULT_PARAMETER_PATTERN
        if not re.fullmatch(pattern, value):
            return f"{value!r} is not an allowed value for {name!r} (must match {pattern})."
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
