"""WebSocket URLs (intellibrowse.asgi wraps them in origin, session and token checks)."""

from django.urls import Resolver404, URLResolver, path
from django.urls.resolvers import RegexPattern

from core import ids  # noqa: F401  registers `<id:...>`
from live import consumers

websocket_urlpatterns = [
    path("ws/executions/<id:execution_id>/", consumers.ExecutionConsumer.as_asgi()),
    path("ws/projects/<id:project_id>/", consumers.ProjectConsumer.as_asgi()),
]

# Close code for a WebSocket URL no route matches (a non-numeric id, an id past 2**63, a typo).
CLOSE_NOT_FOUND = 4404
_resolver = URLResolver(RegexPattern(r"^/"), websocket_urlpatterns)


class RefuseUnknownRoutes:
    """Refuse a handshake to a URL no route matches with 4404 before the handshake is accepted.
    Channels' URLRouter raises ValueError instead: the server logged a traceback and the client
    got a 500, the WebSocket twin of an HTML 404 under /api/."""

    def __init__(self, inner):
        self.inner = inner

    async def __call__(self, scope, receive, send):
        try:
            _resolver.resolve(scope["path"])
        except Resolver404:
            message = await receive()
            if message["type"] == "websocket.connect":
                await send({"type": "websocket.close", "code": CLOSE_NOT_FOUND})
            return
        return await self.inner(scope, receive, send)
