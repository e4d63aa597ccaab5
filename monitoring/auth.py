"""Token authentication for WebSocket handshakes (CI clients and scripts; browsers use the session).

A DRF token is taken from `?token=<key>` or an `Authorization: Token <key>` header. A token that is
given but wrong makes the connection anonymous (the consumer then closes with 4401) rather than
silently falling back to a session: a client that sent credentials learns they are wrong.

Note: a token in the query string can end up in access logs; prefer the header where the client
library can set one.
"""

from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from django.contrib.auth.models import AnonymousUser


def token_from_scope(scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            kind, _, key = value.decode("latin1").partition(" ")
            if kind.lower() == "token" and key.strip():
                return key.strip()
    query = parse_qs(scope.get("query_string", b"").decode("latin1"))
    keys = query.get("token")
    return keys[0] if keys and keys[0] else None


@database_sync_to_async
def user_for_token(key: str):
    from rest_framework.authtoken.models import Token

    token = Token.objects.select_related("user").filter(key=key).first()
    if token is None or not token.user.is_active:
        return AnonymousUser()
    return token.user


class TokenAuthMiddleware(BaseMiddleware):
    """Sits inside AuthMiddlewareStack: a token, when present, decides the user."""

    async def __call__(self, scope, receive, send):
        key = token_from_scope(scope)
        if key is not None:
            scope = {**scope, "user": await user_for_token(key)}
        return await super().__call__(scope, receive, send)
