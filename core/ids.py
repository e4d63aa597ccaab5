"""What an object id may look like wherever a client hands us one: a URL, a query parameter, a body.

Primary keys are BigAutoFields: 1 .. 2**63 - 1 on both databases. A bigger number makes SQLite's
driver raise OverflowError (a 500) in lookups that Django does not range-check itself (foreign
keys: `project_id=<huge>`), and a non-number in a URL reaches views as a string they cannot use.
So ids are checked once, at the edge: URLs only match 1-18 digits (`<id:pk>`, the API router),
filters and parameters go through parse_id / IdFilter (core.filters).

Importing this module registers the `<id:...>` path converter; URL modules that use it import
something from here first.
"""

from django.urls import register_converter

ID_MAX = 2**63 - 1
# Eighteen digits always fit a bigint; an id with more digits cannot exist, so its URL is a 404.
ID_REGEX = r"[0-9]{1,18}"
ID_SCHEMA = {"type": "integer", "minimum": 1, "maximum": ID_MAX}


def parse_id(value: object) -> int | None:
    """`value` as an id, or None when it is not a whole number in 1 .. ID_MAX."""
    if isinstance(value, bool):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if 1 <= number <= ID_MAX else None


class IdConverter:
    """`<id:pk>` in URL patterns: like `<int:pk>`, without the ids no database can hold."""

    regex = ID_REGEX

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)


register_converter(IdConverter, "id")
