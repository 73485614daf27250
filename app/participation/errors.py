"""Domain errors of check-in and participation reports."""

from __future__ import annotations

from app.core.errors import DomainError


class UnknownCode(DomainError):
    status_code = 422
    code = "unknown_code"


class InvalidReport(DomainError):
    """A report that breaks a rule; FIELD names the form field to show it on (None: the whole form)."""

    status_code = 422
    code = "invalid_report"

    def __init__(self, message, field: str | None = None):
        super().__init__(message)
        self.field = field


class CheckinClosed(DomainError):
    """Check-in asked for outside the occurrence's day (Tokyo time): too early or after the day ended."""

    status_code = 409
    code = "checkin_closed"


class AlreadyReminded(DomainError):
    """A reminder for this occurrence's report was already sent today (by staff or by the job)."""

    status_code = 409
    code = "already_reminded"


class NotOverdue(DomainError):
    """A reminder asked for a report that is not due: already submitted, approved, or the event has not ended."""

    status_code = 409
    code = "not_overdue"
