"""Keep credentials out of log lines that quote a URL.

uvicorn writes every request's and every WebSocket handshake's path with its query string to its
logs (`uvicorn.access`, `uvicorn.error`). We never read a credential from a query string, but a
stale client can still send one (`?token=` was once how WebSockets authenticated), and it would
land in the log. This filter masks such parameters before the line is written.
"""

import logging
import re

# Query parameters that carry a credential in the wild; their values are replaced.
_SECRET_PARAM = re.compile(
    r"(?i)([?&](?:token|access_token|auth|key|api_key|apikey|secret|signature|password)=)[^&\s\"']*"
)
MASK = "[redacted]"


def redact(text: str) -> str:
    return _SECRET_PARAM.sub(lambda m: m.group(1) + MASK, text)


class RedactSecretsFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        return True


def install(*logger_names: str) -> None:
    """Add the filter to these loggers (a logger's filters see only its own records)."""
    for name in logger_names:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactSecretsFilter) for f in logger.filters):
            logger.addFilter(RedactSecretsFilter())
