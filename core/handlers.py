"""Django's ASGI handler, with the middleware chain run as one synchronous call.

Every view and every middleware of this project is synchronous. Django's own ASGI handler builds an
async middleware chain, and each sync-only step in it (each MiddlewareMixin's process_request and
process_response, WhiteNoise, the view) is a hop between the event loop and a thread: about fifteen
per request here, which made a trivial request six times dearer under uvicorn than under a WSGI
server (docs/performance.md, "HTTP load"). This handler loads the chain in sync mode and enters it
once per request, in the request's own thread (the same thread the request_started and
request_finished signals use, so database connections are opened and given back where they are
used). Streaming the response and disconnect handling stay Django's.

Reading the body is Django's with a bound: Django spools the whole body to a temporary file
before any view runs, whatever its size, and a body sent with chunked transfer encoding has no
Content-Length for a view to refuse early. Past the largest body any endpoint accepts, the
handler stops reading and answers 413 in the API's error shape.
"""

import tempfile

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.exceptions import RequestAborted
from django.core.handlers import base
from django.core.handlers.asgi import ASGIHandler
from django.http import JsonResponse

from core.errors import error_body

# Room for multipart framing around the largest file an endpoint takes.
_FRAMING_BYTES = 1024 * 1024


def body_limit() -> int:
    """The largest body any endpoint accepts: JSON, a JUnit report, an attachment."""
    limits = (
        settings.DATA_UPLOAD_MAX_MEMORY_SIZE,
        settings.IB_JUNIT_MAX_BYTES,
        settings.IB_ATTACHMENT_MAX_BYTES,
    )
    return max(limits) + _FRAMING_BYTES


class SyncChainASGIHandler(ASGIHandler):
    def __init__(self):
        base.BaseHandler.__init__(self)  # not ASGIHandler.__init__: it loads the async chain
        self.load_middleware(is_async=False)

    async def get_response_async(self, request):
        return await sync_to_async(self.get_response, thread_sensitive=True)(request)

    async def read_body(self, receive):
        limit = body_limit()
        # Outlives this call: the request reads it and handle() closes it.
        body = tempfile.SpooledTemporaryFile(max_size=settings.FILE_UPLOAD_MAX_MEMORY_SIZE)  # noqa: SIM115
        size, more = 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                body.close()
                raise RequestAborted()
            chunk = message.get("body", b"")
            size += len(chunk)
            more = message.get("more_body", False)
            if size > limit:
                # Stop here: the rest is never read (the server closes the connection after
                # the answer), and create_request answers 413 before any view runs.
                body.close()
                return _TooLarge(limit)
            body.write(chunk)
        body.seek(0)
        return body

    def create_request(self, scope, body_file):
        if isinstance(body_file, _TooLarge):
            message = f"The request body is larger than the limit of {body_file.limit:,} bytes."
            detail = {"limit_bytes": body_file.limit}
            return None, JsonResponse(error_body("too_large", message, detail), status=413)
        return super().create_request(scope, body_file)


class _TooLarge:
    """What read_body hands create_request for a body over the limit (handle() closes it)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit

    def close(self) -> None:
        pass
