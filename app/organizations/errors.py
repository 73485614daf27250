"""Domain errors of organizations: the rules a request can break, each with its HTTP status (views turn them into form
errors or pages, the API into JSON)."""

from __future__ import annotations

from app.core.errors import DomainError


class InvalidInvitation(DomainError):
    pass
