"""Error pages. API clients get the one JSON error shape even for URLs that match no route (a
non-numeric id, a typo), for what Django refuses before any view runs (a body over
DATA_UPLOAD_MAX_MEMORY_SIZE read by a middleware) and for server errors; people get Django's HTML
pages."""

from django.core.exceptions import RequestDataTooBig
from django.http import JsonResponse
from django.views import defaults

from core.api_errors import error_body, too_large_body


def _wants_json(request) -> bool:
    return request.path.startswith("/api/")


def bad_request(request, exception=None):
    if not _wants_json(request):
        return defaults.bad_request(request, exception)
    if isinstance(exception, RequestDataTooBig):
        return JsonResponse(too_large_body(), status=413)
    return JsonResponse(error_body("bad_request", "Bad request."), status=400)


def not_found(request, exception=None):
    if _wants_json(request):
        return JsonResponse(error_body("not_found", "Not found."), status=404)
    return defaults.page_not_found(request, exception)


def server_error(request):
    if _wants_json(request):
        body = error_body("server_error", "Something went wrong on our side; it has been logged.")
        return JsonResponse(body, status=500)
    return defaults.server_error(request)
