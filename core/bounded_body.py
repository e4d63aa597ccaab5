"""Request bodies with a bound, and chunked ones made readable, in front of the WSGI application.

Django reads `Content-Length` bytes of a request and spools them to a temporary file before any
view runs, whatever their size. A body sent with chunked transfer encoding (Python requests with a
generator, Go with an io.Reader, `curl -T -`) has no Content-Length, so under WSGI Django reads
nothing of it. This ASGI middleware, between uvicorn and a2wsgi (intellibrowse.asgi):

- answers 413 in the API's error shape, before reading anything, a body that declares a length
  past the largest any endpoint accepts;
- reads a body of unknown length as it comes, up to that limit (413 once past it, the rest never
  read), then hands it on with the Content-Length it turned out to have;
- lets a body of a declared, acceptable length stream through untouched.
"""

import json
import tempfile

from django.conf import settings

from core.errors import error_body

# Room for multipart framing around the largest file an endpoint takes.
_FRAMING_BYTES = 1024 * 1024
_CHUNK = 64 * 1024


def body_limit() -> int:
    """The largest body any endpoint accepts: JSON, a JUnit report, an attachment."""
    limits = (
        settings.DATA_UPLOAD_MAX_MEMORY_SIZE,
        settings.IB_JUNIT_MAX_BYTES,
        settings.IB_ATTACHMENT_MAX_BYTES,
    )
    return max(limits) + _FRAMING_BYTES


class BoundedBody:
    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = body_limit()
        length = _declared_length(scope)
        if length is not None:
            if length > limit:
                await _too_large(send, limit)
                return
            await self.app(scope, receive, send)
            return
        # Outlives the read: the application's receive() hands it on, then it is closed.
        body = tempfile.SpooledTemporaryFile(max_size=settings.FILE_UPLOAD_MAX_MEMORY_SIZE)  # noqa: SIM115
        try:
            size, more = 0, True
            while more:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return  # the client left: nobody to answer
                chunk = message.get("body", b"")
                size += len(chunk)
                more = message.get("more_body", False)
                if size > limit:
                    await _too_large(send, limit)
                    return
                body.write(chunk)
            body.seek(0)
            # The length it turned out to have replaces whatever framing the client declared (a
            # Content-Length that was not a number is read as unknown, above).
            framing = (b"transfer-encoding", b"content-length")
            headers = [(k, v) for k, v in scope["headers"] if k.lower() not in framing]
            headers.append((b"content-length", str(size).encode()))
            await self.app({**scope, "headers": headers}, _replay(body, receive), send)
        finally:
            body.close()


def _declared_length(scope) -> int | None:
    for name, value in scope["headers"]:
        if name.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # read as a body of unknown length, bounded like one
    return None


def _replay(body, receive):
    """A receive() that gives the read body back in chunks, then what the client sends next (a
    disconnect, for the application to notice)."""
    done = False

    async def replayed():
        nonlocal done
        if done:
            return await receive()
        chunk = body.read(_CHUNK)
        more = len(chunk) == _CHUNK
        done = not more
        return {"type": "http.request", "body": chunk, "more_body": more}

    return replayed


async def _too_large(send, limit: int) -> None:
    message = f"The request body is larger than the limit of {limit:,} bytes."
    payload = json.dumps(error_body("too_large", message, {"limit_bytes": limit})).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})
