"""Files attached to step results: screenshots, response bodies, command logs, a tester's upload.

Stored with Django's default storage under `attachments/<execution>/<attempt number>/`; the step
keeps only `{name, content_type, size, url, path}` so traces stay small. Used by the browser, http
and command actions and by executions.services.manual.
"""

import re
import uuid

from django.conf import settings
from django.core.files.base import ContentFile, File
from django.core.files.storage import default_storage

DEFAULT_MAX_BYTES = 10 * 1024 * 1024


def attachment_max_bytes() -> int:
    return int(getattr(settings, "IB_ATTACHMENT_MAX_BYTES", DEFAULT_MAX_BYTES))


def _safe_name(name: str) -> str:
    base = re.sub(r"[^A-Za-z0-9._-]+", "-", name.rsplit("/", 1)[-1]).strip(".-")
    return base[:80] or "file"


def attachment_save(
    execution_id: int, attempt_number: int, name: str, content: bytes | File, content_type: str
) -> dict:
    """Store one file and return its attachment entry. A random prefix keeps two files of the
    same name (two screenshots, two uploads) apart."""
    data = ContentFile(content) if isinstance(content, bytes) else content
    path = f"attachments/{execution_id}/{attempt_number}/{uuid.uuid4().hex[:8]}-{_safe_name(name)}"
    saved = default_storage.save(path, data)
    return {
        "name": name,
        "content_type": content_type or "application/octet-stream",
        "size": data.size,
        "url": default_storage.url(saved),
        "path": saved,
    }


def attempt_number_of(ctx) -> int:
    """The attempt number of a running context (cached: it cannot change during a run)."""
    number = ctx.resources.get("attempt_number")
    if number is None:
        from executions.models import Attempt

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
    """Delete the files of a step that was not stored (its worker no longer held the run): the
    trace never points at them, so nobody else would."""
    for attachment in (step or {}).get("attachments") or []:
        path = attachment.get("path") if isinstance(attachment, dict) else None
        if path:
            default_storage.delete(path)
