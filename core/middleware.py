"""Refusals that apply to every request, before any view."""

from http import HTTPStatus

from django.http import HttpResponseBadRequest, JsonResponse
from django.urls import is_valid_path
from rest_framework.response import Response as DrfResponse

from core.errors import error_body

_NUL_MESSAGE = "URLs may not contain NUL characters (%00)."


class RefuseNulMiddleware:
    """A URL with NUL (U+0000) in its path or query is a 400. PostgreSQL cannot hold NUL in text,
    so a filter or a search that passed one to a query unchecked was a 500; refusing it here covers
    every view, present and future (core.parsers does the same for JSON bodies)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        query = request.META.get("QUERY_STRING", "")
        if "\x00" in request.path or "%00" in query or "\x00" in query:
            if request.path.startswith("/api/"):
                return JsonResponse(error_body("invalid", _NUL_MESSAGE), status=400)
            return HttpResponseBadRequest(_NUL_MESSAGE)
        return self.get_response(request)


# Error codes for statuses Django (not DRF) answers under /api/; DRF's own codes where they exist.
_API_ERROR_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    429: "throttled",
}
# Headers of the original answer a client still needs (what to retry with, when, which methods).
_KEPT_HEADERS = ("Allow", "Retry-After", "WWW-Authenticate")


class ApiErrorShapeMiddleware:
    """Every error under /api/ in the one JSON shape {"code", "message", "detail"}.

    DRF's views answer it already (core.api_errors). What reaches a client otherwise is
    Django's: a URL no route matches (a non-numeric or too-long id, a typo; under DEBUG Django
    answers those with its HTML debug page, ignoring handler404), a method a plain Django view
    refuses (an empty 405), a CSRF refusal. Those are rewritten here, whatever raised them, so a
    new view or URL cannot bring an HTML error back. DRF responses are left alone: they have the
    shape, and the browsable API renders them as HTML for a browser on purpose."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if _unslashed_write(request):
            # CommonMiddleware would redirect to the URL with the slash, which loses the body
            # (and under DEBUG raises instead: a 500). Say where the operation is.
            message = f"Not found. API URLs end in a slash: {request.path}/"
            return JsonResponse(error_body("not_found", message), status=404)
        response = self.get_response(request)
        if (
            response.status_code < 400
            or not request.path.startswith("/api/")
            or isinstance(response, DrfResponse)
            or response.get("Content-Type", "").startswith("application/json")
        ):
            return response
        status = response.status_code
        code = _API_ERROR_CODES.get(status, "server_error" if status >= 500 else "error")
        if status == 405:
            message = f"Method {request.method} is not allowed here."
        elif status == 404:
            message = "Not found."
        elif status >= 500:
            message = "Something went wrong on our side; it has been logged."
        else:
            message = f"{_phrase(status)}."
        shaped = JsonResponse(error_body(code, message), status=status)
        for name in _KEPT_HEADERS:
            if name in response:
                shaped[name] = response[name]
        return shaped


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _unslashed_write(request) -> bool:
    return (
        request.method not in ("GET", "HEAD")
        and request.path.startswith("/api/")
        and not request.path.endswith("/")
        and not is_valid_path(request.path_info)
    )
