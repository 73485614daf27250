"""Authorization matrix: every route of the URL map x eight personas -> the expected outcome.

A route (endpoint + method) with no row fails `test_every_route_has_a_row`, so a new route cannot slip in
unguarded. Columns, in order: anonymous, resident A, resident B, officer of group X, officer of group Y, staff of
facility F, ward staff, admin. Outcomes:

  ok    allowed: 2xx/3xx other than the login redirect, or 409/422 (the guard let the request through to the
        form or the service; POSTs send a valid CSRF token and usually empty data, so they stop at validation)
  nop   allowed answer, but the row's `unchanged` check must still hold (the request was silently refused)
  L     redirect to the login page
  400 401 403 404   that status

Resident A owns the booking, the registration, the API token and the private feed URLs; the other personas try
them (IDOR). Requests that change state when allowed run after every refusal, so the world stays as built for
the refusals; the rows that end a session or revoke the API token in use run last.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from datetime import date, timedelta
from urllib.parse import urlsplit

import pytest

from app.extensions import db
from tests.core.authz_world import (
    DRAFT_TITLE,
    PERSONAS,
    PRIVATE_EMAIL,
    add_closure,
    add_lottery_entry,
    add_photo_row,
    build_world,
    remove_images,
)

CODES = {"ok", "nop", "L", "400", "401", "403", "404"}
UNSAFE = {"POST", "PATCH", "PUT", "DELETE"}


class _World:
    """`W.name` is a lazy reference to the world's attribute NAME (resolved when the case runs)."""

    def __getattr__(self, name):
        return lambda w: getattr(w, name)


W = _World()


@dataclass
class Row:
    endpoint: str
    method: str
    expected: dict[str, str]
    kwargs: dict = field(default_factory=dict)
    query: dict = field(default_factory=dict)
    data: dict = field(default_factory=dict)
    unchanged: object = None  # callable(world) -> bool, for "nop"
    last: bool = False  # run after everything else (ends the persona's session or API token)
    label: str = ""
    bearer: bool = True  # API rows: send the persona's token (False: only the signed-in session cookie)


def R(endpoint, method, outcomes, *, query=None, data=None, unchanged=None, last=False, label="", bearer=True,
      **kwargs):
    """One row: OUTCOMES is 8 codes in PERSONAS order (one code stands for all eight)."""
    codes = outcomes.split()
    if len(codes) == 1:
        codes *= len(PERSONAS)
    assert len(codes) == len(PERSONAS) and set(codes) <= CODES, f"bad outcomes for {endpoint}: {outcomes}"
    return Row(endpoint, method, dict(zip(PERSONAS, codes, strict=True)), kwargs, query or {}, data or {},
               unchanged, last, label, bearer)


def _ticket_token(w):
    """The signed ticket link's token of resident A's registration (as the confirmation e-mail carries it)."""
    from itsdangerous import URLSafeSerializer

    return URLSafeSerializer(w.app.config["SECRET_KEY"], salt="participation-ticket").dumps({"r": w.registration_a})


def _membership_role(w):
    from app.organizations.models import Membership

    membership = db.session.get(Membership, w.member_x)
    return membership.role.value if membership else None


def _member_unchanged(w) -> bool:
    with w.app.app_context():
        return _membership_role(w) == "member"


def _token_a2_alive(w) -> bool:
    from app.accounts.models import ApiToken

    with w.app.app_context():
        return db.session.get(ApiToken, w.token_a2).revoked_at is None


FRESH_CLOSURE_F = lambda w: add_closure(w.facility_f)  # noqa: E731 - an allowed delete needs its own target
FRESH_ENTRY_X = lambda w: add_lottery_entry(w)  # noqa: E731 - likewise an allowed withdrawal
FRESH_PHOTO_F = lambda w: add_photo_row(w.facility_f)  # noqa: E731 - likewise an allowed photo deletion
_EMAILS = itertools.count(1)
NEW_EMAIL = lambda w: f"authz-new{next(_EMAILS)}@example.jp"  # noqa: E731 - mail limits are per address
MANUAL = "P13-01-2"  # an indicator with hand-entered values
EVENT_BASED = "P13-03-1"  # an indicator computed from events matched by mapping rules
ROOM_COUNT = "P09-04-2"  # 「交流の間」利用件数: a booking count whose rule names rooms
FROZEN_YEAR = 2024  # a closed fiscal year staff may freeze and reopen
BOOKING_DAY = lambda w: (date.today() + timedelta(days=21)).isoformat()  # noqa: E731
PERIOD = {"from": "2026-04-01", "to": "2026-05-01"}

#                                                               anon res_a res_b off_x off_y st_f ward admin
TABLE = [
    # --- core, static, account
    R("portal.home", "GET", "ok"),
    R("portal.mine", "GET", "L    ok   ok   ok   ok   ok   ok   ok"),
    R("portal.manage", "GET", "L    ok   ok   ok   ok   ok   ok   ok"),
    R("portal.desk", "GET", "L    403  403  403  403  ok   403  ok"),
    R("portal.ward", "GET", "L    403  403  403  403  403  ok   ok"),
    R("core.healthz", "GET", "ok"),
    R("core.switch_language", "POST", "ok", data={"lang": "ja", "next": "/"}),
    R("static", "GET", "ok", filename="css/app.css"),
    R("accounts.signup", "GET", "ok"),
    R("accounts.signup", "POST", "ok", data={"email": NEW_EMAIL}),
    R("accounts.signup_sent", "GET", "ok"),
    R("accounts.login", "GET", "ok"),
    R("accounts.login", "POST", "ok"),
    R("accounts.logout", "POST", "ok", last=True),
    R("accounts.forgot_password", "GET", "ok"),
    R("accounts.forgot_password", "POST", "ok", data={"email": NEW_EMAIL}),
    R("accounts.confirm_email", "GET", "ok", token="not-a-token"),
    R("accounts.confirm_email", "POST", "400", token="not-a-token"),
    R("accounts.reset_password", "GET", "400", token="not-a-token"),
    R("accounts.reset_password", "POST", "400", token="not-a-token"),
    R("accounts.profile", "GET", "L    ok   ok   ok   ok   ok   ok   ok"),
    R("accounts.update_profile", "POST", "L    ok   ok   ok   ok   ok   ok   ok"),
    R("accounts.change_password", "POST", "L    ok   ok   ok   ok   ok   ok   ok"),
    R("accounts.request_deletion", "POST", "L    ok   ok   ok   ok   ok   ok   ok"),
    R("accounts.cancel_deletion", "POST", "L    ok   ok   ok   ok   ok   ok   ok"),
    R("accounts.create_token", "POST", "L    ok   ok   ok   ok   ok   ok   ok"),
    R("accounts.revoke_token", "POST", "L    ok   nop  nop  nop  nop  nop  nop", token_id=W.token_a2,
      unchanged=_token_a2_alive, label="token-of-a"),
    # --- organizations
    R("organizations.index", "GET", "ok"),
    R("organizations.mine", "GET", "L    ok   ok   ok   ok   ok   ok   ok"),
    R("organizations.new", "GET", "L    ok   ok   ok   ok   ok   ok   ok"),
    R("organizations.new", "POST", "L    ok   ok   ok   ok   ok   ok   ok"),
    R("organizations.show", "GET", "ok", org_id=W.org_x),
    R("organizations.show", "GET", "404  404  404  404  404  404  ok   ok", org_id=W.org_pending, label="pending"),
    R("organizations.logo", "GET", "ok", org_id=W.org_x),
    R("organizations.logo", "GET", "404  404  404  404  404  404  ok   ok", org_id=W.org_pending, label="pending"),
    R("organizations.edit", "GET", "L    403  403  ok   403  403  ok   ok", org_id=W.org_x),
    R("organizations.edit", "POST", "L    403  403  ok   403  403  ok   ok", org_id=W.org_x),
    R("organizations.members", "GET", "L    403  403  ok   403  403  ok   ok", org_id=W.org_x),
    R("organizations.invite", "POST", "L    403  403  ok   403  403  ok   ok", org_id=W.org_x),
    R("organizations.change_role", "POST", "L    403  403  ok   403  403  ok   ok", org_id=W.org_x,
      membership_id=W.member_x),
    R("organizations.change_role", "POST", "L    403  403  403  nop  403  nop  nop", org_id=W.org_y,
      membership_id=W.member_x, data={"role": "officer"}, unchanged=_member_unchanged, label="member-of-x-via-y"),
    R("organizations.remove_member", "POST", "L    403  403  403  nop  403  nop  nop", org_id=W.org_y,
      membership_id=W.member_x, unchanged=_member_unchanged, label="member-of-x-via-y"),
    R("organizations.remove_member", "POST", "L    403  403  ok   403  403  ok   ok", org_id=W.org_x,
      membership_id=W.member_x),
    R("organizations.hand_over", "POST", "L    403  403  ok   403  403  ok   ok", org_id=W.org_x),
    R("organizations.npo_grant", "POST", "L    403  403  ok   403  403  ok   ok", org_id=W.org_x),
    R("organizations.accept_invitation", "GET", "L    ok   ok   ok   ok   ok   ok   ok", token=W.invitation),
    R("organizations.accept_invitation", "POST", "L    400  400  400  400  400  400  400", token=W.invitation),
    R("organizations.review", "GET", "L    403  403  403  403  403  ok   ok"),
    R("organizations.verify", "POST", "L    403  403  403  403  403  ok   ok", org_id=W.org_pending),
    R("organizations.reject", "POST", "L    403  403  403  403  403  ok   ok", org_id=W.org_pending),
    # --- events: public pages and feeds
    R("events.index", "GET", "ok"),
    R("events.calendar", "GET", "ok"),
    R("events.feed", "GET", "ok"),
    R("events.show", "GET", "ok", series_id=W.event_x),
    R("events.show", "GET", "404  404  404  ok   404  404  ok   ok", series_id=W.draft_x, label="draft"),
    R("events.image", "GET", "ok", series_id=W.event_x),
    R("events.image", "GET", "404  404  404  ok   404  404  ok   ok", series_id=W.draft_x, label="draft"),
    R("events.organization_feed", "GET", "ok", org_id=W.org_x),
    R("events.occurrence_ics", "GET", "ok", occurrence_id=W.occ_x),
    R("events.occurrence_ics", "GET", "404  404  404  ok   404  404  ok   ok", occurrence_id=W.occ_draft_x,
      label="draft"),
    R("events.occurrence_ics", "GET", "404", occurrence_id=999999, label="unknown"),
    R("opendata.events", "GET", "ok"),
    R("events.organization_feed", "GET", "404", org_id=W.org_pending, label="pending"),
    R("events.my_feed", "GET", "ok", token=W.events_feed_a, label="a"),
    R("events.my_feed", "GET", "404", token="forged.token", label="forged"),
    R("events.mine", "GET", "L    ok   ok   ok   ok   ok   ok   ok"),
    # --- events: registrations
    R("events.register", "POST", "L    ok   ok   ok   ok   ok   ok   ok", occurrence_id=W.occ_x),
    R("events.register", "POST", "L    404  404  ok   404  404  ok   ok", occurrence_id=W.occ_draft_x,
      label="draft"),
    R("events.cancel_registration", "POST", "L    ok   404  404  404  404  404  404",
      registration_id=W.registration_a),
    R("events.guest_register", "GET", "ok", occurrence_id=W.occ_x),
    R("events.guest_register", "POST", "ok", occurrence_id=W.occ_x, data={"email": NEW_EMAIL}),
    R("events.guest_register", "GET", "404", occurrence_id=W.occ_draft_x, label="draft"),
    R("events.guest_confirm", "GET", "ok", token=W.guest_confirm_token),
    R("events.guest_confirm", "POST", "ok", token=W.guest_confirm_token),
    R("events.guest_confirm", "GET", "400", token="forged.token", label="forged"),
    R("events.guest_cancel", "GET", "ok", token=W.guest_cancel_token),
    R("events.guest_cancel", "POST", "ok", token=W.guest_cancel_token),
    R("events.guest_cancel", "POST", "400", token="forged.token", label="forged"),
    # --- events: organizer (group X) and staff review
    R("events.new", "GET", "L    403  403  ok   403  403  ok   ok", query={"org": W.org_x}),
    R("events.new", "POST", "L    403  403  ok   403  403  ok   ok", query={"org": W.org_x}),
    R("events.manage", "GET", "L    403  403  ok   403  403  ok   ok", org_id=W.org_x),
    R("events.edit", "GET", "L    403  403  ok   403  403  ok   ok", series_id=W.event_x),
    R("events.edit", "POST", "L    403  403  ok   403  403  ok   ok", series_id=W.event_x),
    R("events.cancel", "GET", "L    403  403  ok   403  403  ok   ok", series_id=W.event_x),
    R("events.cancel", "POST", "L    403  403  ok   403  403  ok   ok", series_id=W.event_x),
    R("events.submit", "POST", "L    403  403  ok   403  403  ok   ok", series_id=W.draft_x),
    R("events.edit_occurrence", "GET", "L    403  403  ok   403  403  ok   ok", occurrence_id=W.occ_x),
    R("events.edit_occurrence", "POST", "L    403  403  ok   403  403  ok   ok", occurrence_id=W.occ_x),
    R("events.cancel_occurrence", "GET", "L    403  403  ok   403  403  ok   ok", occurrence_id=W.occ_x),
    R("events.cancel_occurrence", "POST", "L    403  403  ok   403  403  ok   ok", occurrence_id=W.occ_x),
    R("events.registrations", "GET", "L    403  403  ok   403  403  ok   ok", occurrence_id=W.occ_x),
    R("events.registrations_csv", "GET", "L    403  403  ok   403  403  ok   ok", occurrence_id=W.occ_x),
    R("events.message", "POST", "L    403  403  ok   403  403  ok   ok", occurrence_id=W.occ_x),
    R("events.promote", "POST", "L    403  403  ok   403  403  ok   ok", registration_id=W.registration_a),
    R("events.remove_registration", "POST", "L    403  403  ok   403  403  ok   ok",
      registration_id=W.registration_a),
    R("events.review", "GET", "L    403  403  403  403  403  ok   ok"),
    R("events.approve", "POST", "L    403  403  403  403  403  ok   ok", series_id=W.submitted_x),
    R("events.return_to_draft", "POST", "L    403  403  403  403  403  ok   ok", series_id=W.submitted_x),
    R("events.ward_relations", "GET", "L    403  403  403  403  403  ok   ok"),
    # The organizer (officer of X) may not mark their own event: only ward staff set 区と連携・協働 / 区が支援.
    R("events.set_ward_relation", "POST", "L    403  403  403  403  403  ok   ok", series_id=W.event_x),
    # --- participation: resident A's ticket; the door and the report of group X's occurrence; staff review
    R("participation.ticket", "GET", "L    ok   404  404  404  404  404  404", registration_id=W.registration_a),
    R("participation.ticket_qr", "GET", "L    ok   404  404  404  404  404  404", registration_id=W.registration_a),
    R("participation.ticket_by_token", "GET", "ok", token=lambda w: _ticket_token(w)),  # the signed link is the key
    R("participation.ticket_qr_by_token", "GET", "ok", token=lambda w: _ticket_token(w)),
    R("participation.checkin", "GET", "L    403  403  ok   403  403  ok   ok", occurrence_id=W.occ_x),
    R("participation.uncheck", "POST", "L    403  403  ok   403  403  ok   ok", registration_id=W.registration_a),
    R("participation.checkin_code", "POST", "L    403  403  ok   403  403  ok   ok", occurrence_id=W.occ_x),
    R("participation.checkin_manual", "POST", "L    403  403  ok   403  403  ok   ok",
      registration_id=W.registration_a),
    R("participation.walkins", "POST", "L    403  403  ok   403  403  ok   ok", occurrence_id=W.occ_x,
      data={"delta": "1"}),
    R("participation.report", "GET", "L    403  403  ok   403  403  ok   ok", occurrence_id=W.occ_x),
    R("participation.submit_report", "POST", "L    403  403  ok   403  403  ok   ok", occurrence_id=W.occ_x),
    R("participation.organization_reports", "GET", "L    403  403  ok   403  403  ok   ok", org_id=W.org_x),
    R("participation.staff_reports", "GET", "L    403  403  403  403  403  ok   ok"),
    R("indicators.staff_participants", "GET", "L    403  403  403  403  403  ok   ok"),
    R("participation.approve", "POST", "L    403  403  403  403  403  ok   ok", report_id=W.report_x),
    R("participation.return_report", "POST", "L    403  403  403  403  403  ok   ok", report_id=W.report_x),
    R("participation.remind", "POST", "L    403  403  403  403  403  ok   ok", occurrence_id=W.occ_x),
    # --- facilities (public)
    R("facilities.index", "GET", "ok"),
    R("availability.search", "GET", "ok"),
    R("facilities.show", "GET", "ok", facility_id=W.facility_f),
    R("availability.grid", "GET", "ok", facility_id=W.facility_f),
    R("availability.room_busy", "GET", "ok", room_id=W.room_f),
    R("opendata.facilities", "GET", "ok"),
    # --- bookings: resident A's booking; the desk of facility F (staff F) and of facility G (nobody but admin)
    R("bookings.new", "GET", "L    ok   ok   ok   ok   ok   ok   ok", query={"room": W.room_f}),
    R("bookings.new", "POST", "L    ok   ok   ok   ok   ok   ok   ok", data={"room_id": W.room_f}),
    R("bookings.mine", "GET", "L    ok   ok   ok   ok   ok   ok   ok"),
    R("bookings.show", "GET", "L    ok   404  404  404  ok   404  ok", booking_id=W.booking_a),
    R("bookings.booking_ics", "GET", "L    ok   404  404  404  ok   404  ok", booking_id=W.booking_a),
    R("bookings.booking_ics", "GET", "L    404  404  404  ok   404  404  ok", booking_id=W.booking_y, label="y"),
    R("bookings.show", "GET", "L    ok   404  404  404  404  404  ok", booking_id=W.booking_g, label="g"),
    R("bookings.cancel", "GET", "L    ok   404  404  404  ok   404  ok", booking_id=W.booking_a),
    R("bookings.cancel", "POST", "L    ok   404  404  404  ok   404  ok", booking_id=W.booking_a),
    # group Y's booking, made by its other officer: officer Y manages it too; officer X (another group) gets 404
    R("bookings.show", "GET", "L    404  404  404  ok   404  404  ok", booking_id=W.booking_y, label="y"),
    R("bookings.cancel", "GET", "L    404  404  404  ok   404  404  ok", booking_id=W.booking_y, label="y"),
    R("bookings.cancel", "POST", "L    404  404  404  ok   404  404  ok", booking_id=W.booking_y, label="y"),
    R("facilities.photo", "GET", "ok", photo_id=W.photo_f),
    R("facilities.photos_manage", "GET", "L    403  403  403  403  ok   403  ok", facility_id=W.facility_f),
    R("facilities.photos_manage", "GET", "L    403  403  403  403  403  403  ok", facility_id=W.facility_g,
      label="g"),
    R("facilities.photos_manage", "POST", "L    403  403  403  403  ok   403  ok", facility_id=W.facility_f),
    R("facilities.photo_delete", "POST", "L    403  403  403  403  403  403  ok", photo_id=W.photo_g, label="g"),
    R("facilities.photo_delete", "POST", "L    403  403  403  403  ok   403  ok", photo_id=FRESH_PHOTO_F),
    R("facilities.reading_edit", "GET", "L    403  403  403  403  ok   403  ok", facility_id=W.facility_f),
    R("facilities.reading_edit", "GET", "L    403  403  403  403  403  403  ok", facility_id=W.facility_g, label="g"),
    R("facilities.reading_edit", "POST", "L    403  403  403  403  ok   403  ok", facility_id=W.facility_f),
    R("facilities.reading_edit", "POST", "L    403  403  403  403  403  403  ok", facility_id=W.facility_g,
      label="g"),
    R("bookings.series_new", "GET", "L    ok   ok   ok   ok   ok   ok   ok", query={"room": W.room_f}),
    R("bookings.series_new", "POST", "L    ok   ok   ok   ok   ok   ok   ok", data={"room_id": W.room_f}),
    R("bookings.series_show", "GET", "L    ok   404  404  404  ok   404  ok", series_id=W.series_a),
    R("bookings.series_show", "GET", "L    404  404  404  ok   404  404  ok", series_id=W.series_y, label="y"),
    R("bookings.series_cancel", "GET", "L    ok   404  404  404  ok   404  ok", series_id=W.series_a),
    R("bookings.series_cancel", "GET", "L    404  404  404  ok   404  404  ok", series_id=W.series_y, label="y"),
    R("bookings.series_cancel", "POST", "L    ok   404  404  404  ok   404  ok", series_id=W.series_a),
    R("bookings.series_cancel", "POST", "L    404  404  404  ok   404  404  ok", series_id=W.series_y, label="y"),
    R("bookings.feed", "GET", "ok", token=W.booking_feed_a, label="a"),
    R("bookings.feed", "GET", "404", token="forged.token", label="forged"),
    R("bookings.feed", "GET", "404", token=W.events_feed_a, label="events-feed-token"),
    R("events.my_feed", "GET", "404", token=W.booking_feed_a, label="bookings-feed-token"),
    R("bookings.desk", "GET", "L    403  403  403  403  ok   403  ok", facility_id=W.facility_f),
    R("bookings.desk", "GET", "L    403  403  403  403  403  403  ok", facility_id=W.facility_g, label="g"),
    R("bookings.desk_book", "GET", "L    403  403  403  403  ok   403  ok", facility_id=W.facility_f,
      query={"room": W.room_f}),
    R("bookings.desk_book", "GET", "L    403  403  403  403  403  403  ok", facility_id=W.facility_g,
      query={"room": W.room_g}, label="g"),
    R("bookings.desk_book", "POST", "L    403  403  403  403  ok   403  ok", facility_id=W.facility_f,
      data={"room_id": W.room_f}),
    R("bookings.desk_series", "GET", "L    403  403  403  403  ok   403  ok", facility_id=W.facility_f,
      query={"room": W.room_f}),
    R("bookings.desk_series", "GET", "L    403  403  403  403  403  403  ok", facility_id=W.facility_g,
      query={"room": W.room_g}, label="g"),
    R("bookings.desk_series", "POST", "L    403  403  403  403  ok   403  ok", facility_id=W.facility_f,
      data={"room_id": W.room_f}),
    R("bookings.desk_series", "POST", "L    403  403  403  403  403  403  ok", facility_id=W.facility_g,
      data={"room_id": W.room_g}, label="g"),
    R("bookings.desk_action", "POST", "L    403  403  403  403  ok   403  ok", booking_id=W.booking_a,
      action="paid"),
    R("bookings.desk_action", "POST", "L    403  403  403  403  403  403  ok", booking_id=W.booking_g,
      action="paid", label="g"),
    R("bookings.desk_exempt", "POST", "L    403  403  403  403  ok   403  ok", facility_id=W.facility_f),
    R("bookings.desk_exempt", "POST", "L    403  403  403  403  403  403  ok", facility_id=W.facility_g,
      label="g"),
    R("bookings.closures", "GET", "L    403  403  403  403  ok   403  ok", facility_id=W.facility_f),
    R("bookings.closures", "GET", "L    403  403  403  403  403  403  ok", facility_id=W.facility_g, label="g"),
    R("bookings.closures", "POST", "L    403  403  403  403  ok   403  ok", facility_id=W.facility_f),
    R("bookings.delete_closure", "POST", "L    403  403  403  403  ok   403  ok", closure_id=FRESH_CLOSURE_F),
    R("bookings.delete_closure", "POST", "L    403  403  403  403  403  403  ok", closure_id=W.closure_g,
      label="g"),
    # --- alerts: resident A's slot watches (IDOR -> 404); signed unsubscribe and reminder cancel links are the key
    R("alerts.freed", "GET", "ok"),
    R("alerts.new", "GET", "L    ok   ok   ok   ok   ok   ok   ok", query={"room": W.room_f}),
    R("alerts.new", "POST", "L    ok   ok   ok   ok   ok   ok   ok", data={"facility_id": W.facility_f}),
    R("alerts.mine", "GET", "L    ok   ok   ok   ok   ok   ok   ok"),
    R("alerts.delete", "POST", "L    ok   404  404  404  404  404  404", watch_id=W.watch_a),
    R("alerts.unsubscribe", "GET", "ok", token=W.unsubscribe_token),
    R("alerts.unsubscribe", "POST", "ok", token=W.unsubscribe_token),
    R("alerts.unsubscribe", "POST", "400", token="forged.token", label="forged"),
    R("alerts.cancel", "GET", "ok", token=W.cancel_event_token),
    R("alerts.cancel", "GET", "ok", token=W.cancel_booking_token, label="booking"),
    R("alerts.cancel", "POST", "ok", token=W.cancel_event_token),
    R("alerts.cancel", "POST", "400", token="forged.token", label="forged"),
    R("alerts.cancel", "POST", "400", token=W.unsubscribe_token, label="unsubscribe-token"),
    # --- lotteries: facility F's period (windows open) and G's; group X's entry (its officer only; IDOR -> 404)
    R("lotteries.index", "GET", "ok"),
    R("lotteries.show", "GET", "ok", period_id=W.lottery_f),
    R("lotteries.record", "GET", "404", period_id=W.lottery_f),  # not drawn yet: no seed to publish
    R("lotteries.apply", "GET", "L    ok   ok   ok   ok   ok   ok   ok", period_id=W.lottery_f),
    R("lotteries.apply", "POST", "L    ok   ok   ok   ok   ok   ok   ok", period_id=W.lottery_f),
    R("lotteries.mine", "GET", "L    ok   ok   ok   ok   ok   ok   ok"),
    R("lotteries.entry", "GET", "L    404  404  ok   404  404  404  404", entry_id=W.entry_x),
    R("lotteries.entry", "POST", "L    404  404  ok   404  404  404  404", entry_id=W.entry_x),
    R("lotteries.confirm", "POST", "L    404  404  ok   404  404  404  404", entry_id=W.entry_x),
    R("lotteries.decline", "POST", "L    404  404  ok   404  404  404  404", entry_id=W.entry_x),
    R("lotteries.withdraw", "POST", "L    404  404  ok   404  404  404  404", entry_id=FRESH_ENTRY_X),
    R("lotteries.staff_index", "GET", "L    403  403  403  403  ok   ok   ok"),
    R("lotteries.staff_new", "GET", "L    403  403  403  403  ok   ok   ok", facility_id=W.facility_f),
    R("lotteries.staff_new", "GET", "L    403  403  403  403  403  ok   ok", facility_id=W.facility_g, label="g"),
    R("lotteries.staff_new", "POST", "L    403  403  403  403  ok   ok   ok", facility_id=W.facility_f),
    R("lotteries.staff_new", "POST", "L    403  403  403  403  403  ok   ok", facility_id=W.facility_g, label="g"),
    R("lotteries.staff_period", "GET", "L    403  403  403  403  ok   ok   ok", period_id=W.lottery_f),
    R("lotteries.staff_period", "GET", "L    403  403  403  403  403  ok   ok", period_id=W.lottery_g, label="g"),
    R("lotteries.staff_edit", "GET", "L    403  403  403  403  ok   ok   ok", period_id=W.lottery_f),
    R("lotteries.staff_edit", "POST", "L    403  403  403  403  ok   ok   ok", period_id=W.lottery_f),
    R("lotteries.staff_edit", "POST", "L    403  403  403  403  403  ok   ok", period_id=W.lottery_g, label="g"),
    R("lotteries.staff_draw", "POST", "L    403  403  403  403  ok   ok   ok", period_id=W.lottery_f),
    R("lotteries.staff_draw", "POST", "L    403  403  403  403  403  ok   ok", period_id=W.lottery_g, label="g"),
    # --- staff dashboards and indicators
    R("dashboards.overview", "GET", "L    403  403  403  403  ok   ok   ok"),
    R("dashboards.facility", "GET", "L    403  403  403  403  ok   ok   ok", facility_id=W.facility_f),
    R("dashboards.facility", "GET", "L    403  403  403  403  403  ok   ok", facility_id=W.facility_g, label="g"),
    R("dashboards.facility", "GET", "L    403  403  403  403  404  404  404", facility_id=W.facility_f,
      query={"room_id": W.room_g}, label="room-of-g"),
    R("dashboards.export_csv", "GET", "L    403  403  403  403  ok   ok   ok"),
    R("dashboards.export_csv", "GET", "L    403  403  403  403  403  ok   ok", query={"facility_id": W.facility_g},
      label="g"),
    R("dashboards.export_xlsx", "GET", "L    403  403  403  403  ok   ok   ok"),
    R("dashboards.export_xlsx", "GET", "L    403  403  403  403  403  ok   ok", query={"facility_id": W.facility_g},
      label="g"),
    R("indicators.public_list", "GET", "ok"),
    R("indicators.staff_list", "GET", "L    403  403  403  403  403  ok   ok"),
    R("indicators.staff_export", "GET", "L    403  403  403  403  403  ok   ok"),
    R("indicators.staff_detail", "GET", "L    403  403  403  403  403  ok   ok", code=MANUAL),
    R("indicators.enter_value", "POST", "L    403  403  403  403  403  ok   ok", code=MANUAL),
    R("indicators.staff_export_xlsx", "GET", "L    403  403  403  403  403  ok   ok"),
    R("indicators.rules", "GET", "L    403  403  403  403  403  ok   ok", code=EVENT_BASED),
    R("indicators.rules", "GET", "L    403  403  403  403  403  404  404", code=MANUAL, label="manual"),
    R("indicators.save_rules", "POST", "L    403  403  403  403  403  ok   ok", code=EVENT_BASED),
    R("indicators.rules", "GET", "L    403  403  403  403  403  ok   ok", code=ROOM_COUNT, label="rooms"),
    R("indicators.save_rules", "POST", "L    403  403  403  403  403  ok   ok", code=ROOM_COUNT, label="rooms"),
    R("indicators.years", "GET", "L    403  403  403  403  403  ok   ok"),
    R("indicators.confirm_freeze", "GET", "L    403  403  403  403  403  ok   ok", year=FROZEN_YEAR),
    R("indicators.freeze_year", "POST", "L    403  403  403  403  403  ok   ok", year=FROZEN_YEAR),
    R("indicators.reopen_year", "POST", "L    403  403  403  403  403  ok   ok", year=FROZEN_YEAR),
    # --- JSON API (bearer tokens; the session cookie never authenticates it)
    R("api-docs.openapi_json", "GET", "ok"),
    R("api_docs.docs", "GET", "ok"),
    R("api_auth.TokenResource", "POST", "ok"),
    R("api_auth.TokenResource", "DELETE", "401  ok   ok   ok   ok   ok   ok   ok", last=True),
    R("api_me.MeResource", "GET", "401  ok   ok   ok   ok   ok   ok   ok"),
    R("api_me.MeResource", "GET", "401", bearer=False, label="session-cookie-only"),
    R("api_facilities.BookingCancel", "POST", "401", booking_id=W.booking_a, bearer=False,
      label="session-cookie-only"),
    R("api_organizations.OrganizationList", "GET", "ok"),
    R("api_organizations.OrganizationList", "POST", "401  ok   ok   ok   ok   ok   ok   ok"),
    R("api_organizations.OrganizationList", "POST", "401  403  403  403  403  403  ok   ok", label="verified",
      data={"kind": "neighborhood_association", "district": "shiba", "name": {"ja": "職員が登録する会"},
            "verified_until": "2099-03-31"}),
    R("api_organizations.OrganizationDetail", "GET", "ok", org_id=W.org_x),
    R("api_organizations.OrganizationDetail", "GET", "404", org_id=W.org_pending, label="pending"),
    R("api_indicators.IndicatorList", "GET", "ok"),
    R("api_indicators.IndicatorItem", "GET", "ok", code=MANUAL),
    R("api_facilities.FacilityList", "GET", "ok"),
    R("api_facilities.RoomAvailability", "GET", "ok", room_id=W.room_f, query=PERIOD),
    R("api_facilities.BookingList", "GET", "401  ok   ok   ok   ok   ok   ok   ok"),
    R("api_facilities.BookingList", "POST", "401  ok   ok   ok   ok   ok   ok   ok"),
    R("api_facilities.BookingList", "POST", "401  403  403  ok   403  403  403  403", label="as-group-x",
      data={"room_id": W.room_f, "day": BOOKING_DAY, "units": ["morning"], "purpose": "会議", "attendees": 5,
            "organization_id": W.org_x}),
    R("api_facilities.BookingCancel", "POST", "401  ok   404  404  404  404  404  404", booking_id=W.booking_a),
    R("api_facilities.BookingCancel", "POST", "401  404  404  404  ok   404  404  404", booking_id=W.booking_y,
      label="y"),
    R("api_utilization.Utilization", "GET", "401  403  403  403  403  ok   ok   ok", query=PERIOD),
    R("api_utilization.UtilizationYear", "GET", "401  403  403  403  403  ok   ok   ok", year=FROZEN_YEAR),
    R("api_utilization.Utilization", "GET", "401  403  403  403  403  403  ok   ok",
      query={**PERIOD, "facility_id": W.facility_g}, label="g"),
    R("api_utilization.Utilization", "GET", "401  403  403  403  403  403  ok   ok",
      query={**PERIOD, "room_id": W.room_g}, label="room-of-g"),
    R("api_events.EventList", "GET", "ok"),
    R("api_events.EventList", "POST", "401  403  403  ok   403  403  ok   ok", data={"organization_id": W.org_x}),
    R("api_events.EventDetail", "GET", "ok", event_id=W.event_x),
    R("api_events.EventDetail", "GET", "404", event_id=W.draft_x, label="draft"),
    R("api_events.EventDetail", "PATCH", "401  403  403  ok   403  403  ok   ok", event_id=W.event_x),
    R("api_events.EventCancel", "POST", "401  403  403  ok   403  403  ok   ok", event_id=W.cancel_x,
      data={"reason": "雨天のため"}),
    R("api_events.OccurrenceRegistration", "POST", "401  ok   ok   ok   ok   ok   ok   ok", occurrence_id=W.occ_x),
    R("api_events.OccurrenceRegistration", "POST", "401  404  404  404  404  404  404  404",
      occurrence_id=W.occ_draft_x, label="draft"),
    R("api_events.OccurrenceRegistration", "DELETE", "401  ok   ok   ok   ok   ok   ok   ok",
      occurrence_id=W.occ_x),
]


def _resolve(value, world):
    if callable(value):
        return value(world)
    if isinstance(value, dict):
        return {k: _resolve(v, world) for k, v in value.items()}
    return value


def _phase(row: Row, persona: str) -> int:
    """Refusals and reads first; allowed writes after them; session-ending rows last."""
    if row.last:
        return 2
    return 1 if row.method in UNSAFE and row.expected[persona] == "ok" else 0


def _cases():
    cases = [(row, persona) for row in TABLE for persona in PERSONAS]
    cases.sort(key=lambda case: _phase(*case))  # stable: table order within a phase
    return [pytest.param(row, persona, id=f"{row.endpoint}-{row.method}{'-' + row.label if row.label else ''}"
                         f"-{persona}") for row, persona in cases]


@pytest.fixture(scope="module")
def world(app):
    """Built once for the module; emptied at its end (the per-test cleanup is switched off below)."""
    from tests.conftest import _empty_tables

    w = build_world(app)
    w.app = app
    yield w
    remove_images(w)
    _empty_tables(app)
    from app.extensions import limiter

    limiter.reset()
    app.extensions.get("mail_delivered", []).clear()


@pytest.fixture(autouse=True)
def _clean_state():
    """Overrides the suite's per-test emptying: the matrix shares one world across its cases."""
    yield


def _is_api(endpoint: str) -> bool:
    return endpoint.startswith("api")


def _request(world, row: Row, persona: str):
    client = world.clients[persona]
    values = {**_resolve(row.kwargs, world), **_resolve(row.query, world)}
    url = world.app.url_map.bind("localhost").build(row.endpoint, values, method=row.method)
    data = _resolve(row.data, world)
    if _is_api(row.endpoint):
        headers = {"Authorization": f"Bearer {world.bearer[persona]}"} if persona != "anon" and row.bearer else {}
        body = {"json": data} if row.method in UNSAFE else {}
        return client.open(url, method=row.method, headers=headers, **body)
    if row.method in UNSAFE:
        return client.open(url, method=row.method, data={"csrf_token": world.csrf[persona], **data})
    return client.open(url, method=row.method)


def _outcome(response) -> str:
    status = response.status_code
    if status in (301, 302, 303) and urlsplit(response.headers.get("Location", "")).path == "/account/login":
        return "L"
    if status < 400 or status in (409, 422):
        return "ok"
    return str(status)


def test_lists_and_exports_show_only_what_the_persona_may_see(world):
    """Pages that list things (my bookings, my events, the API's bookings, staff exports) are scoped to the persona.

    Runs before the matrix, while the world is as built (the matrix cancels things and signs everyone out).
    """
    def text(persona, url, **kwargs):
        response = world.clients[persona].get(url, **kwargs)
        assert response.status_code == 200, (persona, url, response.status_code)
        if response.is_json:
            return json.dumps(response.get_json(), ensure_ascii=False)
        return response.get_data(as_text=True).replace("\r\n ", "")  # unfold ICS lines

    booking_url = f"/bookings/{world.booking_a}"
    assert booking_url in text("res_a", "/bookings/mine")
    assert booking_url not in text("res_b", "/bookings/mine")
    cancel_url = f"/events/registrations/{world.registration_a}/cancel"
    assert cancel_url in text("res_a", "/events/mine")
    assert cancel_url not in text("res_b", "/events/mine")
    api_ids = {persona: [b["id"] for b in world.clients[persona].get(
        "/api/v1/bookings", headers={"Authorization": f"Bearer {world.bearer[persona]}"}).get_json()]
        for persona in ("res_a", "res_b", "staff_f")}
    assert world.booking_a in api_ids["res_a"]
    assert world.booking_a not in api_ids["res_b"] and world.booking_a not in api_ids["staff_f"]
    assert DRAFT_TITLE in text("off_x", f"/events/{world.draft_x}")
    month = (date.today() + timedelta(days=10)).strftime("%Y-%m")  # the events' month
    public = ["/events/", f"/events/calendar?month={month}", "/events/feed.ics", f"/organizations/{world.org_x}",
              f"/events/organizations/{world.org_x}/feed.ics", "/api/v1/events"]
    if "opendata.events" in world.app.view_functions:
        public.append("/opendata/events.csv")
    for url in public:
        body = text("res_b", url)
        assert DRAFT_TITLE not in body, url
        assert "防災訓練" in body, url  # the published event is listed: the list is not just empty
    group_page = f"/organizations/{world.org_x}"
    assert PRIVATE_EMAIL in text("off_x", group_page) and PRIVATE_EMAIL in text("ward", group_page)
    for persona in ("anon", "res_b", "off_y", "staff_f"):
        assert PRIVATE_EMAIL not in text(persona, group_page), persona
        assert PRIVATE_EMAIL not in text(persona, f"/api/v1/organizations/{world.org_x}"), persona
    for url in ("/staff/utilization/export.csv", "/staff/utilization"):
        assert "テスト施設F" in text("staff_f", url) and "テスト施設G" not in text("staff_f", url), url
        assert "テスト施設G" in text("ward", url), url


@pytest.mark.parametrize(("row", "persona"), _cases())
def test_route_authorization(world, row: Row, persona: str):
    """The persona gets the outcome the table says for the route."""
    response = _request(world, row, persona)
    response.close()  # static files are streamed from an open file
    expected = row.expected[persona]
    got = _outcome(response)
    if expected == "nop":
        assert got == "ok", f"{row.endpoint} {row.method} as {persona}: {response.status_code}"
        assert row.unchanged(world), f"{row.endpoint} {row.method} as {persona} changed what it must not"
    else:
        assert got == expected, (f"{row.endpoint} {row.method} as {persona}: expected {expected}, "
                                 f"got {response.status_code} {response.headers.get('Location', '')}")


def test_every_route_has_a_row(app):
    """Every endpoint + method of the URL map is in the table, and every row names a real route."""
    routes = {(rule.endpoint, method) for rule in app.url_map.iter_rules()
              for method in rule.methods - {"HEAD", "OPTIONS"}}
    rows = {(row.endpoint, row.method) for row in TABLE}
    missing = "\n".join(f"{endpoint} {method}" for endpoint, method in sorted(routes - rows))
    assert not missing, f"routes without a row in the authorization matrix:\n{missing}"
    stale = "\n".join(f"{endpoint} {method}" for endpoint, method in sorted(rows - routes))
    assert not stale, f"rows for routes that no longer exist:\n{stale}"
