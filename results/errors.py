"""What the results app refuses, as DomainErrors (one JSON shape, the right 4xx)."""

from core.errors import DomainError


class ResultsError(DomainError):
    code = "results_invalid"


class InvalidJUnit(ResultsError):
    code = "invalid_junit"


class XMLForbidden(ResultsError):
    """A DTD, entity declaration or external reference: refused before anything is expanded."""

    code = "xml_forbidden"


class ImportTooLarge(ResultsError):
    status = 413
    code = "too_large"


class IdempotencyConflict(ResultsError):
    """An Idempotency-Key that was used before for a different report."""

    status = 409
    code = "idempotency_conflict"


class HookUnauthenticated(ResultsError):
    status = 401
    code = "hook_unauthenticated"


class HookBadSignature(ResultsError):
    status = 403
    code = "bad_signature"


class InvalidQuery(ResultsError):
    code = "invalid_query"
