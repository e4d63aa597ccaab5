"""Keep credentials out of the web server's log lines.

uvicorn writes every request's and every WebSocket handshake's path with its query string to its
logs (`uvicorn.access`, `uvicorn.error`). We never read a credential from a query string, but a
stale client can still send one (`?token=` was once how WebSockets authenticated), and it would
land in the log. At `--log-level debug` the websockets library also logs every handshake header,
one `("< %s: %s", name, value)` record each, through `uvicorn.error`: the token a client sends in
`Authorization` or `Sec-WebSocket-Protocol`, a session cookie, a CI hook's secret or signature.
This filter masks both before the line is written.
"""

import logging
import re

# Query parameters that carry a credential in the wild; their values are replaced.
_SECRET_PARAM = re.compile(
    r"(?i)([?&](?:token|access_token|auth|key|api_key|apikey|secret|signature|password)=)[^&\s\"']*"
)
MASK = "[redacted]"
# Headers whose value is a credential (lower case).
SECRET_HEADERS = {
    "authorization",
    "cookie",
    "sec-websocket-protocol",
    "x-intellibrowse-token",
    "x-intellibrowse-signature",
}


def redact(text: str) -> str:
    return _SECRET_PARAM.sub(lambda m: m.group(1) + MASK, text)


class RedactSecretsFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
            if len(args) == 2 and str(args[0]).lower() in SECRET_HEADERS:
                args = (args[0], MASK)  # a header line: name, value
            record.args = args
        return True


def install(*logger_names: str) -> None:
    """Add the filter to these loggers (a logger's filters see only its own records)."""
    for name in logger_names:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactSecretsFilter) for f in logger.filters):
            logger.addFilter(RedactSecretsFilter())
