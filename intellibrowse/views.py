"""Error pages. API clients get the one JSON error shape even for URLs that match no route (a
non-numeric id, a typo) and for server errors; people get Django's HTML pages."""

from django.http import JsonResponse
from django.views import defaults

from intellibrowse.api_errors import error_body


def _wants_json(request) -> bool:
    return request.path.startswith("/api/")


def not_found(request, exception=None):
    if _wants_json(request):
        return JsonResponse(error_body("not_found", "Not found."), status=404)
    return defaults.page_not_found(request, exception)


def server_error(request):
    if _wants_json(request):
        body = error_body("server_error", "Something went wrong on our side; it has been logged.")
        return JsonResponse(body, status=500)
    return defaults.server_error(request)
