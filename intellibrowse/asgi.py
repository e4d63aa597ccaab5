"""The web process's application: plain HTTP through Django's WSGI handler, WebSockets through
Channels, and the lifespan of the web process's background work (the embedded relay and the alert
evaluator, see intellibrowse.background).

Run it with uvicorn (`uvicorn intellibrowse.asgi:application`), which sends lifespan events.

Every view and middleware of this project is synchronous, so HTTP goes to the WSGI application
run in a fixed pool of threads (a2wsgi): one hop from the event loop per request, where Django's
ASGI handler made about fifteen (signals, each middleware, the view), and a request costs what
it costs under a WSGI server (docs/performance.md, "HTTP load"). Each of those threads keeps its
own persistent database connection (DB_CONN_MAX_AGE), so no connection pool is needed either:
a web process holds at most IB_HTTP_THREADS connections for HTTP.

WebSocket handshakes (live.auth): a DRF token in `Authorization: Token ...` or the subprotocol
`token, <key>` decides the user on its own; without one, the Origin must be in ALLOWED_HOSTS and
the session cookie decides. Then the consumer's own access check.
"""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "intellibrowse.settings")
# Set Django up before importing anything that touches models (consumers, middleware).
django.setup(set_prefix=False)

from a2wsgi import WSGIMiddleware  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.handlers.wsgi import WSGIHandler  # noqa: E402

from core import redact  # noqa: E402
from core.bounded_body import BoundedBody  # noqa: E402
from intellibrowse.background import BackgroundTasks  # noqa: E402
from live.auth import WebSocketAuthMiddleware  # noqa: E402
from live.routing import RefuseUnknownRoutes, websocket_urlpatterns  # noqa: E402

# uvicorn logs each request's path and query string; mask credentials a client put there.
redact.install("uvicorn.access", "uvicorn.error")

# BoundedBody: a bound on every request body, and chunked bodies given the length WSGI needs.
django_http_app = BoundedBody(WSGIMiddleware(WSGIHandler(), workers=settings.IB_HTTP_THREADS))

router = ProtocolTypeRouter(
    {
        "http": django_http_app,
        "websocket": RefuseUnknownRoutes(WebSocketAuthMiddleware(URLRouter(websocket_urlpatterns))),
    }
)
background = BackgroundTasks()


async def lifespan(scope, receive, send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            try:
                await background.start()
            except Exception as exc:
                await send({"type": "lifespan.startup.failed", "message": str(exc)})
                return
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await background.stop()
            await send({"type": "lifespan.shutdown.complete"})
            return


async def application(scope, receive, send) -> None:
    if scope["type"] == "lifespan":
        await lifespan(scope, receive, send)
        return
    if not background.started:
        await background.start()  # a server without lifespan support
    await router(scope, receive, send)
