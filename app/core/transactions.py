"""One service call in the request's transaction: commit once on success; on a DomainError roll back and put the
message where the page shows it.

Thin views (ARCHITECTURE.md rules 2 and 3) parse the form, check permission, call one service, commit once, then
redirect or render; services never commit and raise DomainError. Every view used to spell that out as its own
try / except DomainError / rollback / else / commit / flash block. It is now:

    with request_transaction(errors=form.reason) as tx:
        told = series_services.cancel_series(series, actor=current_user, reason=form.reason.data)
    if tx.failed:
        return render_template("events/cancel.html", form=form, ...), 422
    flash(_("..."), "success")
    return redirect(url_for("events.show", series_id=series.id), 303)

or, when both outcomes go back to the same page:

    with request_transaction(errors=FLASH, success=_("公開しました。")):
        series_services.approve(series, staff=current_user)
    return redirect(url_for("events.review"), 303)

A context manager rather than a function taking the service call: the block may hold the few statements that
belong to the call (reading values from its result before the commit expires them), the pages for success and
for failure stay ordinary code in the view, and names bound in the block are there after it.

Leaving the block normally: commit (unless COMMIT is false: a quote or a plan that writes nothing ends as it
did, without a commit), then flash SUCCESS, when given, as "success". A `return` inside the block leaves it
normally too, and so commits: answer after the block.

Leaving it by a DomainError: roll back, then put the message in the first place that takes it:
  1. FORM: the field of FORM that the exception's `field` attribute names (InvalidEvent, InvalidReport ...);
  2. ERRORS: a form field (the message is added to its errors), FLASH (flashed as "error"), or VIEW (the view shows
     tx.error itself: an error= on its page, or a page of its own). ERRORS may instead map exception classes to
     places, e.g. {InvalidImage: form.logo, DomainError: form.member_count}: the first class the exception is an
     instance of decides, and an exception of none of them has no place.
If no place takes it, the exception goes on (rolled back) to the app's error page with its own status, exactly as
if the view had not caught it: that is what `with request_transaction():` alone does around a call that is not
expected to fail. Any other exception goes on untouched (the error handlers and the session teardown roll back).

The view chooses the status of the page it re-renders, as before: a fixed code, tx.error.status_code, or
tx.status() (the exception's 403, 404 or 409 kept, anything else 422). The helper never redirects: after a POST the
view answers redirect(url, 303) (See Other), so the browser follows with a GET and a reload does not resubmit.
"""

from __future__ import annotations

from collections.abc import Container, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

from flask import flash
from wtforms import Field, Form

from app.core.errors import DomainError
from app.extensions import db

FLASH = "flash"  # the message is flashed (category "error") for the page the view redirects to
VIEW = "view"  # the view shows tx.error itself

Place = Field | str
Errors = Place | Mapping[type[DomainError], Place] | None


@dataclass
class Outcome:
    """What became of a request_transaction block: ERROR is the DomainError it showed, None after a commit."""

    error: DomainError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def failed(self) -> bool:
        return self.error is not None

    def status(self, *, keep: Container[int] = (403, 404, 409), otherwise: int = 422) -> int:
        """The status of the page that shows the error: the exception's own when it is in KEEP, else OTHERWISE."""
        if self.error is None:
            raise RuntimeError("status() of a block that did not fail")
        code = self.error.status_code
        return code if code in keep else otherwise


@contextmanager
def request_transaction(*, errors: Errors = None, form: Form | None = None, success: str | None = None,
                        commit: bool = True) -> Iterator[Outcome]:
    """Run the block in the request's transaction: commit on success, roll back and show a DomainError (see the
    module's docstring for where ERRORS and FORM put its message)."""
    for place in (errors.values() if isinstance(errors, Mapping) else (errors,)):
        _check_place(place)
    outcome = Outcome()
    try:
        yield outcome
    except DomainError as exc:
        db.session.rollback()
        if not _show(exc, errors, form):
            raise
        outcome.error = exc
        return
    if commit:
        db.session.commit()
    if success is not None:
        flash(success, "success")


def _check_place(place) -> None:
    # A typo in FLASH or VIEW would otherwise show only when a rule is broken.
    if isinstance(place, str):
        if place not in (FLASH, VIEW):
            raise ValueError(f"unknown place for an error message: {place!r}")
    elif place is not None and not hasattr(place, "errors"):
        raise TypeError(f"not a form field: {place!r}")


def _show(exc: DomainError, errors: Errors, form: Form | None) -> bool:
    """Put EXC's message in its place; False when it has none."""
    name = getattr(exc, "field", None)
    if form is not None and isinstance(name, str) and name in form:
        _add_error(form[name], exc.message)
        return True
    place = errors
    if isinstance(errors, Mapping):
        place = next((p for kind, p in errors.items() if isinstance(exc, kind)), None)
    if place is None:
        return False
    if not isinstance(place, str):
        _add_error(place, exc.message)
    elif place == FLASH:
        flash(exc.message, "error")
    return True


def _add_error(field: Field, message) -> None:
    # A field's errors are a tuple until the form is validated, a list afterwards.
    field.errors = [*field.errors, message]
