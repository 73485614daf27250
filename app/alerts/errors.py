"""Domain errors of alerts: the rules a request can break, each with its HTTP status (views turn them into form
errors or pages, the API into JSON)."""

from __future__ import annotations

from app.core.errors import Conflict, DomainError


class AlertError(DomainError):
    """A watch cannot be made as asked (the form shows the message)."""

    status_code = 422
    code = "alert_invalid"


class TooManyWatches(AlertError):
    code = "too_many_watches"


class AlreadyWatching(Conflict):
    code = "already_watching"


class InvalidAlertLink(DomainError):
    status_code = 400
    code = "invalid_link"
