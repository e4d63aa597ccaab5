"""A small JSON path for assertions and captures: `$.items[0].name`, `items.0.name`, `$`.

Enough for what steps check (keys, list indexes, negative indexes) without a dependency; filters
and wildcards are out of scope on purpose (a step that needs them is a `python` check).
"""

import re

_TOKEN = re.compile(r"""\.?([^.\[\]]+)|\[(-?\d+)\]|\[['"]([^'"]+)['"]\]""")


class PathError(ValueError):
    pass


def parse(path: str) -> list[str | int]:
    text = path.strip()
    if text.startswith("$"):
        text = text[1:]
    parts: list[str | int] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise PathError(f"cannot read JSON path {path!r} at {text[pos:]!r}")
        key, index, quoted = match.groups()
        if index is not None:
            parts.append(int(index))
        elif quoted is not None:
            parts.append(quoted)
        else:
            parts.append(int(key) if re.fullmatch(r"-?\d+", key) else key)
        pos = match.end()
    return parts


def resolve(document: object, path: str) -> tuple[bool, object]:
    """(found, value) of `path` in `document`."""
    current = document
    for part in parse(path):
        if isinstance(current, dict) and str(part) in current:
            current = current[str(part)]
        elif (
            isinstance(current, list)
            and isinstance(part, int)
            and -len(current) <= part < len(current)
        ):
            current = current[part]
        else:
            return False, None
    return True, current
