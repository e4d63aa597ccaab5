"""Downloads of step attachments (screenshots, response bodies, uploads), for project members only.

Attachment URLs are the storage URLs (`/media/attachments/<execution>/...`); this view answers them
after checking that the user may read the execution's project, so nothing is served to strangers
(404, as for every object of a project they are not in). A browser signs in with its session, a CI
client with `Authorization: Token ...` (the API's token).

Every byte served here was chosen by a user or by a site a test visited, so none of it may run in
our origin: only raster images (sniffed when stored) are shown inline; everything else is a
download; and every answer carries `nosniff` and a sandboxing Content-Security-Policy, so even a
file a browser were to render gets no script, no same-origin access, no cookies to read.
"""

from django.contrib.auth.views import redirect_to_login
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpResponse
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication

from catalog import access
from core.inert import served_inert
from executions.attachments import INLINE_TYPES, attachment_describe
from executions.models import Execution


def _user_of(request):
    """The session's user, else the API token's; None when neither signs the request in.
    A bad token is an error of its own (401), not a fall-back to the login page."""
    if request.user.is_authenticated:
        return request.user
    found = TokenAuthentication().authenticate(request)  # raises AuthenticationFailed
    return found[0] if found else None


def attachment_download(request, execution_id: int, rest: str):
    try:
        user = _user_of(request)
    except exceptions.AuthenticationFailed as error:
        return _harden(HttpResponse(str(error.detail), status=401, content_type="text/plain"))
    if user is None:
        return redirect_to_login(request.get_full_path())
    project_id = (
        Execution.objects.filter(pk=execution_id).values_list("project_id", flat=True).first()
    )
    if project_id is None or not access.has_role(user, project_id, access.READ):
        raise Http404("No such attachment.")
    if ".." in rest.split("/") or "\\" in rest:
        raise Http404("No such attachment.")
    path = f"attachments/{execution_id}/{rest}"
    described = attachment_describe(execution_id, path)
    if described is None:
        raise Http404("No such attachment.")
    name, content_type = described
    response = FileResponse(
        default_storage.open(path, "rb"),
        content_type=content_type,
        as_attachment=content_type not in INLINE_TYPES,
        filename=name,
    )
    return _harden(response)


def _harden(response):
    served_inert(response)
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    response["Cache-Control"] = "private, no-store"
    return response
