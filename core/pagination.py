from types import SimpleNamespace

from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response

from core.ids import ID_MAX


class StandardPagination(PageNumberPagination):
    """Page numbers people can read in a URL; `page_size` lets CI fetch bigger pages.

    A `page` or `page_size` that is not a whole number in its range is a 400 (DRF silently used
    the first page or the default size instead, so a typo looked like missing rows); the schema
    documents the bounds. A page past the end stays DRF's 404.
    """

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500
    last_page_strings = ()  # `?page=last` is not an integer; the schema says integer

    def get_page_number(self, request, paginator):
        number = _whole_number(request.query_params.get(self.page_query_param, "1"))
        if number < 1:
            raise ValidationError({self.page_query_param: "Give a whole number of at least 1."})
        return number

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        size = _whole_number(raw)
        if not 1 <= size <= self.max_page_size:
            raise ValidationError(
                {self.page_size_query_param: f"Give a whole number from 1 to {self.max_page_size}."}
            )
        return size

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        bounds = {
            self.page_query_param: {"minimum": 1},
            self.page_size_query_param: {"minimum": 1, "maximum": self.max_page_size},
        }
        for parameter in parameters:
            parameter["schema"].update(bounds.get(parameter["name"], {}))
        return parameters


def _whole_number(raw: str) -> int:
    """int(raw), or 0 for anything that is not plain ASCII digits (int() also takes " 5", "+5",
    "5_0" and other scripts' digits). Past 18 digits, a number larger than any page or size
    (int() would refuse 4,300 digits, and the schema allows them)."""
    if not (raw.isascii() and raw.isdigit()):
        return 0
    return int(raw) if len(raw) <= 18 else 10**18


class CappedCountPagination(StandardPagination):
    """StandardPagination for lists that grow without bound (executions, results): the same
    `page` and `page_size`, the same answer, but the cost of a page does not grow with the table.

    DRF counted every matching row for `count` (at 1,000,000 executions the count alone was most
    of a request). Here the rows are counted only up to COUNT_CAP: `count` is exact up to it, and
    `count_capped` is true when there are more. `next` does not depend on the count: the page
    reads one row more than it shows, so a client that follows `next` gets every row, however
    many; only `count` stops at the cap. A page past the end is still a 404.
    """

    count_cap = 1000
    template = None  # the browsable API's page links need the exact number of pages

    def paginate_queryset(self, queryset, request, view=None):
        self.request = request
        size = self.get_page_size(request)
        number = self.get_page_number(request, None)
        offset = (number - 1) * size
        if offset + size + 1 > ID_MAX:
            # No table holds that many rows, and the database refuses an OFFSET past a bigint.
            raise NotFound(self.invalid_page_message)
        rows = list(queryset[offset : offset + size + 1])
        if number > 1 and not rows:
            raise NotFound(self.invalid_page_message)
        has_next = len(rows) > size
        rows = rows[:size]
        # The last page tells the count without a query; otherwise count at most count_cap + 1
        # rows, whatever the table holds.
        bounded = queryset.order_by()[: self.count_cap + 1]
        count = bounded.count() if has_next else offset + len(rows)
        self.count_capped = count > self.count_cap
        self.page = _Page(number, has_next, min(count, self.count_cap))
        return rows

    def get_paginated_response(self, data):
        return Response(
            {
                "count": self.page.paginator.count,
                "count_capped": self.count_capped,
                "next": self.get_next_link(),
                "previous": self.get_previous_link(),
                "results": data,
            }
        )

    def get_paginated_response_schema(self, schema):
        answer = super().get_paginated_response_schema(schema)
        answer["properties"]["count"]["description"] = (
            f"How many rows match, counted up to {self.count_cap}; follow `next` for every row."
        )
        answer["properties"]["count_capped"] = {
            "type": "boolean",
            "description": f"True when more than {self.count_cap} rows match (`count` says "
            f"{self.count_cap}).",
        }
        answer["required"] = ["count", "count_capped", "results"]
        return answer


class _Page:
    """What DRF's next and previous links read of a Django Page, without the exact count."""

    def __init__(self, number: int, has_next: bool, count: int):
        self.number = number
        self._has_next = has_next
        self.paginator = SimpleNamespace(count=count)

    def has_next(self) -> bool:
        return self._has_next

    def has_previous(self) -> bool:
        return self.number > 1

    def next_page_number(self) -> int:
        return self.number + 1

    def previous_page_number(self) -> int:
        return self.number - 1
