"""Django's ASGI handler, with the middleware chain run as one synchronous call.

Every view and every middleware of this project is synchronous. Django's own ASGI handler builds an
async middleware chain, and each sync-only step in it (each MiddlewareMixin's process_request and
process_response, WhiteNoise, the view) is a hop between the event loop and a thread: about fifteen
per request here, which made a trivial request six times dearer under uvicorn than under a WSGI
server (docs/performance.md, "HTTP load"). This handler loads the chain in sync mode and enters it
once per request, in the request's own thread (the same thread the request_started and
request_finished signals use, so database connections are opened and given back where they are
used). Reading the body, streaming the response and disconnect handling stay Django's.
"""

from asgiref.sync import sync_to_async
from django.core.handlers import base
from django.core.handlers.asgi import ASGIHandler


class SyncChainASGIHandler(ASGIHandler):
    def __init__(self):
        base.BaseHandler.__init__(self)  # not ASGIHandler.__init__: it loads the async chain
        self.load_middleware(is_async=False)

    async def get_response_async(self, request):
        return await sync_to_async(self.get_response, thread_sensitive=True)(request)
