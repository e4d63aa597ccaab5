"""Built-in step actions. Importing this package registers them (see registry.action)."""

from executions.runners.actions import builtins  # noqa: F401
