"""Downloads of step attachments (screenshots, response bodies, uploads), for project members only.

Attachment URLs are the storage URLs (`/media/attachments/<execution>/...`); this view answers them
after checking that the user may read the execution's project, so nothing is served to strangers.
"""

import mimetypes

from django.contrib.auth.decorators import login_required
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404

from executions import access
from executions.models import Execution


@login_required
def attachment_download(request, execution_id: int, rest: str):
    project_id = (
        Execution.objects.filter(pk=execution_id).values_list("project_id", flat=True).first()
    )
    if project_id is None or not access.has_role(request.user, project_id, access.READ):
        raise Http404("No such attachment.")
    path = f"attachments/{execution_id}/{rest}"
    if ".." in rest.split("/") or not default_storage.exists(path):
        raise Http404("No such attachment.")
    content_type = mimetypes.guess_type(path)[0] or "application/octet-stream"
    response = FileResponse(default_storage.open(path, "rb"), content_type=content_type)
    response["X-Content-Type-Options"] = "nosniff"
    # Served inline only for images; anything else downloads, so an uploaded HTML file cannot run
    # as a page of ours.
    if not content_type.startswith("image/"):
        response["Content-Disposition"] = "attachment"
    return response
