"""The house rules a newcomer relies on, checked on every run: apps import downwards only (the
import-linter contract in pyproject.toml, also run by `make lint`), no import dodges a cycle from
inside a function, and no module grows past what one can read in a sitting."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
APPS = [
    "core",
    "catalog",
    "executions",
    "results",
    "runners",
    "live",
    "monitoring",
    "engine",
    "dashboard",
    "intellibrowse",
]
MAX_LINES = 600


def _modules():
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            if "migrations" not in path.parts:
                yield path


def test_the_import_contracts_hold():
    linter = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run(
        [str(linter), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )

    assert done.returncode == 0, done.stdout[-3000:]
    assert "0 broken" in done.stdout


@pytest.mark.parametrize("path", list(_modules()), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_is_longer_than_a_sitting(path):
    assert len(path.read_text().splitlines()) <= MAX_LINES


def _parse(source: str) -> ast.Module:
    """ast.parse, once more if CPython 3.11.2 (Debian's) trips over its own recursion counter,
    which the process's threads share (CPython gh-106905, fixed in later releases): a test process
    here has server threads. The error says nothing of the source."""
    try:
        return ast.parse(source)
    except SystemError as exc:
        if "recursion depth mismatch" not in str(exc):
            raise
        return ast.parse(source)


def _local_imports_of_ours(path: Path):
    source = path.read_text()
    lines = source.splitlines()
    for node in ast.walk(_parse(source)):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for inner in ast.walk(node):
            if isinstance(inner, ast.ImportFrom) and inner.module:
                names = [inner.module]
            elif isinstance(inner, ast.Import):
                names = [alias.name for alias in inner.names]
            else:
                continue
            if not any(name.split(".")[0] in APPS for name in names):
                continue
            # A lazy import must say why, in a comment on the lines just above it (the first
            # import of a block carries the reason for the block).
            above = lines[max(0, inner.lineno - 6) : inner.lineno - 1]
            if not any("Lazy" in line or "lazy" in line for line in above if "#" in line):
                yield f"{path.relative_to(ROOT)}:{inner.lineno} {names[0]}"


def test_no_function_imports_our_code_without_saying_why():
    found = [hit for path in _modules() for hit in _local_imports_of_ours(path)]

    assert found == []
