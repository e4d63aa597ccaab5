"""Built-in step actions. Importing this package registers them (see registry.action)."""

from runners.actions import (  # noqa: F401
    browser,
    builtins,
    command,
    defaults,
    http,
    python,
)
