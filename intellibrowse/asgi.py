"""The ASGI application: Django for HTTP, Channels for WebSockets, and the lifespan of the web
process's background work (the embedded relay and the alert evaluator, see intellibrowse.background).

Run it with uvicorn (`uvicorn intellibrowse.asgi:application`), which sends lifespan events.
WebSocket handshakes (live.auth): a DRF token in `Authorization: Token ...` or the
subprotocol `token, <key>` decides the user on its own; without one, the Origin must be in
ALLOWED_HOSTS and the session cookie decides. Then the consumer's own access check.
"""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "intellibrowse.settings")
# Pooled database connections: Django gives each ASGI request its own thread (see settings). Set
# for the settings to read, then taken back: a process that imports this module and later starts
# others (the test suite starting qcluster workers) must not hand them a pool across a fork.
_asked_for_pool = "IB_DB_POOL" not in os.environ
if _asked_for_pool:
    os.environ["IB_DB_POOL"] = "1"
try:
    # Set Django up before importing anything that touches models (consumers, middleware).
    django.setup(set_prefix=False)
finally:
    if _asked_for_pool:
        del os.environ["IB_DB_POOL"]

from core import redact  # noqa: E402
from core.handlers import SyncChainASGIHandler  # noqa: E402

# uvicorn logs each request's path and query string; mask credentials a client put there.
redact.install("uvicorn.access", "uvicorn.error")

django_asgi_app = SyncChainASGIHandler()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from intellibrowse.background import BackgroundTasks  # noqa: E402
from live.auth import WebSocketAuthMiddleware  # noqa: E402
from live.routing import RefuseUnknownRoutes, websocket_urlpatterns  # noqa: E402

router = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
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
