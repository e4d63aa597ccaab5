"""One JSON error shape for the whole API: {"code", "message", "detail"}.

Every error a client can cause ends here as a 4xx: DRF's own exceptions, our DomainError, django-fsm's
TransitionNotAllowed / ConcurrentTransition (409), Django's ValidationError and its refusals of an
oversize body (413) or of too many form fields (400). core.views answers the same shape
for the errors Django raises before a view runs.

Validation errors are a 400, except when every one of them says "no such object" (an id in the
body that does not exist, or is in a project the client cannot see): 404, the same as for that id
in a URL; or when every one says "already taken" (a key, a slug, a name): 409.
"""

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django_fsm import ConcurrentTransition, TransitionNotAllowed
from rest_framework import exceptions, status
from rest_framework.fields import get_error_detail
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from core.errors import DomainError, error_body


def _message_from(detail: object) -> str:
    """A one-line summary of DRF's nested error detail, for people; `detail` keeps the structure."""
    if isinstance(detail, dict):
        for key, value in detail.items():
            inner = _message_from(value)
            return inner if key in ("non_field_errors", "detail") else f"{key}: {inner}"
        return "Invalid input."
    if isinstance(detail, list):
        return _message_from(detail[0]) if detail else "Invalid input."
    return str(detail)


# Error codes of "the object you name does not exist (for you)" (DRF's related fields) and of "that
# value is already taken" (Django's unique checks; the catalog services use the same code).
NOT_FOUND_CODES = {"does_not_exist"}
TAKEN_CODES = {"unique", "unique_together"}


def _leaf_codes(codes: object) -> set[str]:
    if isinstance(codes, dict):
        return set().union(*(_leaf_codes(value) for value in codes.values()))
    if isinstance(codes, list):
        return set().union(*(_leaf_codes(value) for value in codes))
    return {str(codes)}


def too_large_body() -> dict:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return error_body(
        "too_large",
        f"The request body is larger than the limit of {limit:,} bytes.",
        {"limit_bytes": limit},
    )


def exception_handler(exc, context):
    if isinstance(exc, RequestDataTooBig):
        return Response(too_large_body(), status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
    if isinstance(exc, TooManyFieldsSent | TooManyFilesSent):
        return Response(error_body("invalid", str(exc)), status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, DomainError):
        body = error_body(exc.code, exc.message, exc.detail)
        body["retryable"] = exc.retryable
        return Response(body, status=exc.status)
    if isinstance(exc, TransitionNotAllowed):
        return Response(
            error_body("transition_not_allowed", str(exc) or "That transition is not allowed now."),
            status=status.HTTP_409_CONFLICT,
        )
    if isinstance(exc, ConcurrentTransition):
        return Response(
            error_body("concurrent_change", "Someone else changed this object first; reload."),
            status=status.HTTP_409_CONFLICT,
        )
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(detail=get_error_detail(exc))  # keeps the error codes
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # a real bug: let Django log it and answer a plain 500 without a trace
    detail = response.data
    if isinstance(exc, exceptions.ValidationError):
        code = "invalid"
        message = _message_from(detail)
        codes = _leaf_codes(exc.get_codes())
        if codes and codes <= NOT_FOUND_CODES:
            code, response.status_code = "not_found", status.HTTP_404_NOT_FOUND
        elif codes and codes <= TAKEN_CODES:
            code, response.status_code = "conflict", status.HTTP_409_CONFLICT
    else:
        codes = exc.get_codes() if isinstance(exc, exceptions.APIException) else None
        code = codes if isinstance(codes, str) else "error"
        message = str(detail.get("detail", "")) if isinstance(detail, dict) else str(detail)
        # A throttled client gets the wait in the body too (DRF sets the Retry-After header).
        wait = getattr(exc, "wait", None) if isinstance(exc, exceptions.Throttled) else None
        detail = {"retry_after": wait} if wait is not None else None
    response.data = error_body(code, message, detail)
    return response
