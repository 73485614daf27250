"""Domain errors of accounts: the rules a request can break, each with its HTTP status (views turn them into form
errors or pages, the API into JSON)."""

from __future__ import annotations

from app.core.errors import DomainError


class WeakPassword(DomainError):
    code = "weak_password"


class InvalidCredentials(DomainError):
    status_code = 401
    code = "invalid_credentials"


class EmailNotConfirmed(DomainError):
    status_code = 403
    code = "email_not_confirmed"


class InvalidLink(DomainError):
    code = "invalid_link"
