"""One JSON error shape for the whole API: {"code", "message", "detail"}.

Every error a client can cause ends here as a 4xx: DRF's own exceptions, our DomainError, django-fsm's
TransitionNotAllowed / ConcurrentTransition (409) and Django's ValidationError.
"""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django_fsm import ConcurrentTransition, TransitionNotAllowed
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from intellibrowse.errors import DomainError


def error_body(code: str, message: str, detail: object = None) -> dict:
    return {"code": code, "message": message, "detail": detail}


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


def exception_handler(exc, context):
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
        detail = exc.message_dict if hasattr(exc, "error_dict") else exc.messages
        exc = exceptions.ValidationError(detail=detail)
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
    else:
        codes = exc.get_codes() if isinstance(exc, exceptions.APIException) else None
        code = codes if isinstance(codes, str) else "error"
        message = str(detail.get("detail", "")) if isinstance(detail, dict) else str(detail)
        detail = None
    response.data = error_body(code, message, detail)
    return response
