"""Files attached to step results: screenshots, response bodies, command logs, a tester's upload.

Stored with Django's default storage as `attachments/<execution>/<attempt>/<32 hex digits>`: a random
name with no extension, so no upload can be imported or run by its name (a `conftest.py`, a `.pth`)
or served by its extension, and MEDIA_ROOT lies outside the project folder where runner profiles
work (settings). An `Attachment` row keeps the original name and the type sniffed from the bytes
for the download (executions.views.attachment_download). The step keeps only
`{name, content_type, size, url, path}` so traces stay small. Used by the browser, http and command
actions and by executions.services.manual.
"""

import re
import unicodedata
import uuid

import filetype
from django.conf import settings
from django.core.files.base import ContentFile, File
from django.core.files.storage import default_storage

from executions.models import Attachment, Attempt

DEFAULT_MAX_BYTES = 10 * 1024 * 1024
# The only types shown inline in our origin: raster images, which a browser never runs. An SVG is
# an XML document that may carry script; HTML, PDF and everything else download.
INLINE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
OCTET_STREAM = "application/octet-stream"
_SNIFF_BYTES = 8192
_LEGACY_PREFIX = re.compile(r"^[0-9a-f]{8}-")


def attachment_max_bytes() -> int:
    return int(getattr(settings, "IB_ATTACHMENT_MAX_BYTES", DEFAULT_MAX_BYTES))


def sniff_content_type(head: bytes) -> str:
    """The type of a file judged by its first bytes only (a name or a client's Content-Type is
    whatever the uploader wants). Unknown binary is application/octet-stream; UTF-8 text without
    NUL bytes is text/plain (an SVG or HTML file is text too: it is never shown inline)."""
    kind = filetype.guess(head)
    if kind is not None:
        return kind.mime
    if b"\x00" not in head:
        try:
            head.decode("utf-8")
        except UnicodeDecodeError as error:
            # A multi-byte character cut by the sniff window is still text.
            if error.start < len(head) - 3:
                return OCTET_STREAM
        return "text/plain"
    return OCTET_STREAM


def download_name(name: str) -> str:
    """A file name safe for a Content-Disposition header: the last path part, no control
    characters (a newline in a header is an error), at most 150 characters."""
    base = re.split(r"[/\\]", name or "")[-1]
    base = "".join("_" if unicodedata.category(c).startswith("C") else c for c in base)
    return base.strip(" .")[:150] or "attachment"


def attachment_save(
    execution_id: int, attempt_number: int, name: str, content: bytes | File, content_type: str = ""
) -> dict:
    """Store one file under a random name and record its `Attachment` row; return the step's
    attachment entry. `content_type` is what the producer claims; the entry and the row carry
    the sniffed type instead."""
    data = ContentFile(content) if isinstance(content, bytes) else content
    data.seek(0)
    sniffed = sniff_content_type(data.read(_SNIFF_BYTES))
    data.seek(0)
    path = f"attachments/{execution_id}/{attempt_number}/{uuid.uuid4().hex}"
    saved = default_storage.save(path, data)
    row = Attachment.objects.create(
        execution_id=execution_id,
        path=saved,
        name=download_name(name),
        content_type=sniffed,
        size=data.size,
    )
    return {
        "name": row.name,
        "content_type": sniffed,
        "size": row.size,
        "url": default_storage.url(saved),
        "path": saved,
    }


def attachment_describe(execution_id: int, path: str) -> tuple[str, str] | None:
    """(download name, sniffed type) of a stored attachment, or None when there is no such file.
    Files stored before the Attachment rows (`<8 hex>-<name>`) have no row: their type is sniffed
    now, and their name is the stored one without the random prefix."""
    row = Attachment.objects.filter(execution_id=execution_id, path=path).first()
    if row is not None:
        return (row.name, row.content_type) if default_storage.exists(path) else None
    if not default_storage.exists(path):
        return None
    try:
        with default_storage.open(path, "rb") as file:
            sniffed = sniff_content_type(file.read(_SNIFF_BYTES))
    except IsADirectoryError:  # `/media/attachments/<execution>/<attempt>` names a folder
        return None
    return download_name(_LEGACY_PREFIX.sub("", path.rsplit("/", 1)[-1])), sniffed


def attempt_number_of(ctx) -> int:
    """The attempt number of a running context (cached: it cannot change during a run)."""
    number = ctx.resources.get("attempt_number")
    if number is None:
        number = Attempt.objects.values_list("number", flat=True).get(pk=ctx.attempt_id)
        ctx.resources["attempt_number"] = number
    return number


def attachment_for_step(ctx, name: str, content: bytes, content_type: str) -> dict:
    """Store a file produced by a running step (a runner's helper around attachment_save)."""
    limit = attachment_max_bytes()
    if len(content) > limit:
        content = content[:limit]
        name = f"{name} (first {limit // 1024} KiB)"
    return attachment_save(ctx.execution_id, attempt_number_of(ctx), name, content, content_type)


def discard_attachments(step: dict | None) -> None:
    """Delete the files (and their Attachment rows) of a step that was not stored (its worker no
    longer held the run): the trace never points at them, so nobody else would."""
    for attachment in (step or {}).get("attachments") or []:
        path = attachment.get("path") if isinstance(attachment, dict) else None
        if path:
            Attachment.objects.filter(path=path).delete()
            default_storage.delete(path)
