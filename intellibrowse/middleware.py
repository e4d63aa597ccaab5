"""Refusals that apply to every request, before any view."""

from django.http import HttpResponseBadRequest, JsonResponse

from intellibrowse.errors import error_body

_NUL_MESSAGE = "URLs may not contain NUL characters (%00)."


class RefuseNulMiddleware:
    """A URL with NUL (U+0000) in its path or query is a 400. PostgreSQL cannot hold NUL in text,
    so a filter or a search that passed one to a query unchecked was a 500; refusing it here covers
    every view, present and future (intellibrowse.parsers does the same for JSON bodies)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        query = request.META.get("QUERY_STRING", "")
        if "\x00" in request.path or "%00" in query or "\x00" in query:
            if request.path.startswith("/api/"):
                return JsonResponse(error_body("invalid", _NUL_MESSAGE), status=400)
            return HttpResponseBadRequest(_NUL_MESSAGE)
        return self.get_response(request)
