from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination


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
