"""What triage refuses, as DomainErrors (one JSON shape, the right 4xx)."""

from core.errors import DomainError


class TriageError(DomainError):
    code = "triage_invalid"
