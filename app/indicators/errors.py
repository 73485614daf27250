"""Domain errors of indicators: the rules a request can break, each with its HTTP status (views turn them into form
errors or pages, the API into JSON)."""

from __future__ import annotations

from app.core.errors import DomainError


class InvalidManualValue(DomainError):
    """A staff-entered value is not acceptable; `field` names the form field at fault."""

    status_code = 422

    def __init__(self, message, field: str):
        super().__init__(message)
        self.field = field


class InvalidRules(DomainError):
    """Proposed mapping rules cannot be used."""

    status_code = 422


class FreezeError(DomainError):
    """A fiscal year cannot be frozen or reopened."""

    status_code = 409
