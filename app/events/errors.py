"""Domain errors of events and registrations."""

from __future__ import annotations

from app.core.errors import Conflict, DomainError


class InvalidEvent(DomainError):
    """Bad event input; FIELD names the form field the message belongs to."""

    status_code = 422

    def __init__(self, message, field: str | None = None):
        super().__init__(message)
        self.field = field


class RegistrationClosed(Conflict):
    pass


class AlreadyRegistered(Conflict):
    pass


class InvalidGuestLink(DomainError):
    pass
