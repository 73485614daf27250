"""Domain errors of lottery: the rules a request can break, each with its HTTP status (views turn them into form
errors or pages, the API into JSON)."""

from __future__ import annotations

from app.core.errors import Conflict, DomainError


class LotteryError(DomainError):
    """A lottery rule was broken (the message is shown to the user)."""


class NotOpen(LotteryError):
    """The period takes no entries: no seed committed yet, or already drawn."""


class TooManyEntries(Conflict):
    """The group has used all its entries for this period."""

    code = "too_many_entries"


class BadPreferences(LotteryError):
    """Preferences empty, repeated, too many, or outside the period."""


class AlreadyDrawn(Conflict):
    """The period was drawn already."""

    code = "already_drawn"


class WindowClosed(Conflict):
    """The applicant's tier does not take entries now (not yet open, or closed)."""

    code = "lottery_window_closed"
