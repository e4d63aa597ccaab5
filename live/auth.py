"""Authentication of WebSocket handshakes: a DRF token for CI clients and scripts, the session
cookie (behind an Origin check) for browsers.

A token comes in a header, never in the URL: servers and proxies write the URL, query string
included, to their access logs (uvicorn does, for every handshake), and a token there is a
credential in a log file. Two ways, for the two kinds of client:
- `Authorization: Token <key>`: clients that can set headers (websockets, httpx, curl);
- `Sec-WebSocket-Protocol: token, <key>`: browsers, whose WebSocket API sets no other header
  (`new WebSocket(url, ["token", key])`); the server answers with the subprotocol `token`.
`?token=` is not read at all.

A token, when given, decides the user, and the session and the Origin check do not apply: the Origin
check exists because a browser sends its cookies to any site's socket (cross-site WebSocket
hijacking), while a token is never sent by the browser on its own, and a CI client has no Origin
to send. A token that is given but wrong makes the connection anonymous (the consumer closes with
4401) rather than falling back to the session: a client that sent credentials learns they are wrong.
"""

from dataclasses import dataclass

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from channels.security.websocket import AllowedHostsOriginValidator
from django.contrib.auth.models import AnonymousUser

# The subprotocol a browser offers before its token; the server accepts the socket with it.
TOKEN_SUBPROTOCOL = "token"  # noqa: S105  a protocol name, not a secret
# Where the consumer finds the subprotocol to answer (None: the client asked for none).
SCOPE_SUBPROTOCOL = "ib.subprotocol"


@dataclass(frozen=True)
class Credential:
    key: str
    subprotocol: str | None  # what the server must answer, when the token came as a subprotocol


def token_from_scope(scope) -> Credential | None:
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            kind, _, key = value.decode("latin1").partition(" ")
            if kind.lower() == "token":
                return Credential(key.strip(), None)
    offered = scope.get("subprotocols") or []
    if TOKEN_SUBPROTOCOL in offered:
        position = offered.index(TOKEN_SUBPROTOCOL)
        key = offered[position + 1] if position + 1 < len(offered) else ""
        return Credential(key.strip(), TOKEN_SUBPROTOCOL)
    return None


@database_sync_to_async
def user_for_token(key: str):
    from rest_framework.authtoken.models import Token

    token = Token.objects.select_related("user").filter(key=key).first() if key else None
    if token is None or not token.user.is_active:
        return AnonymousUser()
    return token.user


class WebSocketAuthMiddleware:
    """A token decides the user on its own; without one, the Origin must be ours and the session
    decides (a foreign or missing Origin is refused with 403 before the handshake)."""

    def __init__(self, inner):
        self.inner = inner
        self.with_session = AllowedHostsOriginValidator(AuthMiddlewareStack(inner))

    async def __call__(self, scope, receive, send):
        credential = token_from_scope(scope)
        if credential is None:
            return await self.with_session(scope, receive, send)
        scope = {
            **scope,
            "user": await user_for_token(credential.key),
            SCOPE_SUBPROTOCOL: credential.subprotocol,
        }
        return await self.inner(scope, receive, send)
