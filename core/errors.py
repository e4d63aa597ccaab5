"""The one domain error type. Apps subclass it; the API exception handler maps it to 4xx."""


def error_body(code: str, message: str, detail: object = None) -> dict:
    """The one JSON shape of every error the API answers (core.api_errors)."""
    return {"code": code, "message": message, "detail": detail}


class DomainError(Exception):
    """A rule of the domain said no. `code` is stable and machine-readable; `message` is for people.

    `status` is the HTTP status the API answers with; `retryable` tells a client whether the same
    call may succeed later (a paused queue) or never will (a deprecated case).
    """

    status = 400
    code = "invalid"

    def __init__(
        self,
        message: str,
        code: str | None = None,
        *,
        retryable: bool = False,
        detail: object = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.retryable = retryable
        self.detail = detail


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Conflict(DomainError):
    """The object is not in a state that allows this (a transition from a terminal state, a race)."""

    status = 409
    code = "conflict"


class PermissionDenied(DomainError):
    status = 403
    code = "permission_denied"
