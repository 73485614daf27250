"""What you confirm is what you book (issue 16): the confirming POST carries the summary's signed quote, and
anything other than what it says (fields edited below the summary, a token altered or forged, a fee changed since)
is quoted again and books nothing."""

from __future__ import annotations

import re
from datetime import timedelta

import sqlalchemy as sa
from itsdangerous import URLSafeTimedSerializer

from app.bookings import quotes
from app.bookings.models import Booking
from app.core.time import today_tokyo
from app.extensions import db
from app.facilities.models import FeeRate, UserCategory
from tests.facilities.factories import assign_staff, make_center
from tests.factories import app_context, csrf_token, login, make_user, post_form, quote_token

CHANGED = "予約の内容が、確かめたときと変わりました"
FEE_CHANGED = "料金が、確かめたときと変わりました"


def _form(c, day, slot="morning", **over):
    data = {"room_id": str(c.meeting_id), "day": day.isoformat(), "units": [f"s{c.slot_ids[slot]}"],
            "purpose": "子ども会の打合せ", "attendees": "12", "category": "resident", "organization_id": ""}
    data.update(over)
    return data


def _bookings() -> list[Booking]:
    with app_context():
        return list(db.session.scalars(sa.select(Booking).options(sa.orm.selectinload(Booking.items))))


def _set_fee(c, slot: str, yen: int) -> None:
    with app_context():
        db.session.execute(sa.update(FeeRate).where(
            FeeRate.room_id == c.meeting_id, FeeRate.slot_code == slot, FeeRate.category == UserCategory.RESIDENT)
            .values(amount_yen=yen))
        db.session.commit()


def _to_pay(html: str) -> str:
    """The amount the summary says is to be paid (お支払い)."""
    return re.search(r"<dt>お支払い</dt><dd><strong>([\d,]+円)</strong>", html).group(1)


def _quoted(client, url, data, page):
    response = post_form(client, url, data, page=page)
    assert response.status_code == 200, response.status_code
    html = response.get_data(as_text=True)
    return html, quote_token(html)


def _setup(client, *, desk=False):
    c = make_center(fee=1500)
    _set_fee(c, "evening", 2500)
    user = make_user()
    day = today_tokyo() + timedelta(days=10)
    if desk:
        from app.core.permissions import Role

        staff = make_user(role=Role.FACILITY_STAFF)
        assign_staff(staff.id, c.facility_id)
        login(client, staff.email)
        url = f"/bookings/desk/{c.facility_id}/book"
    else:
        login(client, user.email)
        url = "/bookings/new"
    return c, user, day, url, f"{url}?room={c.meeting_id}&day={day.isoformat()}"


def test_a_confirmation_edited_below_the_summary_is_quoted_again_not_booked(client):
    c, _user, day, url, page = _setup(client)
    html, signed = _quoted(client, url, _form(c, day), page)
    assert _to_pay(html) == "1,500円" and signed
    # The reported case: slot and headcount changed below the summary, then "book with this content".
    edited = post_form(client, url, {**_form(c, day, slot="evening", attendees="1"), "confirm": signed}, page=page)
    text = edited.get_data(as_text=True)
    assert edited.status_code == 409 and _bookings() == []
    assert CHANGED in text and "予約の内容を確かめてください" in text
    assert _to_pay(text) == "2,500円" and "夜間" in text  # the new summary
    # Confirming the new summary books exactly it.
    done = post_form(client, url, {**_form(c, day, slot="evening", attendees="1"), "confirm": quote_token(text)},
                     page=page)
    assert done.status_code == 303
    [booking] = _bookings()
    assert (booking.fee_net_yen, booking.attendees, [i.slot_code for i in booking.items]) == (2500, 1, ["evening"])


def test_every_quoted_term_is_checked(client):
    c, _user, day, url, page = _setup(client)
    _html, signed = _quoted(client, url, _form(c, day), page)
    for change in ({"room_id": str(c.hall_a_id)}, {"day": (day + timedelta(days=1)).isoformat()},
                   {"units": [f"s{c.slot_ids['morning']}", f"s{c.slot_ids['afternoon']}"]},
                   {"attendees": "13"}, {"category": "outside"}):
        response = post_form(client, url, {**_form(c, day), **change, "confirm": signed}, page=page)
        assert response.status_code == 409 and CHANGED in response.get_data(as_text=True), change
    assert _bookings() == []
    # The purpose is not part of the price: changing it books what was quoted.
    assert post_form(client, url, {**_form(c, day, purpose="別の目的"), "confirm": signed},
                     page=page).status_code == 303


def test_a_tampered_or_forged_quote_is_quoted_again(client, app):
    c, user, day, url, page = _setup(client)
    _html, signed = _quoted(client, url, _form(c, day), page)
    tampered = signed[:10] + ("A" if signed[10] != "A" else "B") + signed[11:]
    terms = quotes.quote_terms(user_id=user.id, room_id=c.meeting_id, day=day,
                               unit_keys=[f"s{c.slot_ids['morning']}"], attendees=12,
                               category=UserCategory.RESIDENT, organization_id=None, equipment_ids=[])
    forged = URLSafeTimedSerializer("not-the-secret", salt=quotes.SALT).dumps({"terms": terms, "fee": 0})
    with app.app_context():
        other_salt = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt="participation-ticket").dumps(
            {"terms": terms, "fee": 0})
    for bad in (tampered, forged, other_salt, "1", "x" * 300):
        response = post_form(client, url, {**_form(c, day), "confirm": bad}, page=page)
        text = response.get_data(as_text=True)
        assert response.status_code == 409 and CHANGED in text, bad
        assert _to_pay(text) == "1,500円"
    assert _bookings() == []


def test_a_fee_changed_since_the_summary_is_shown_again_before_booking(client):
    c, _user, day, url, page = _setup(client)
    _html, signed = _quoted(client, url, _form(c, day), page)
    _set_fee(c, "morning", 2000)
    response = post_form(client, url, {**_form(c, day), "confirm": signed}, page=page)
    text = response.get_data(as_text=True)
    assert response.status_code == 409 and FEE_CHANGED in text and _to_pay(text) == "2,000円"
    assert _bookings() == []
    assert post_form(client, url, {**_form(c, day), "confirm": quote_token(text)}, page=page).status_code == 303
    [booking] = _bookings()
    assert booking.fee_net_yen == 2000


def test_the_honest_path_books_exactly_the_quoted_fee(client):
    c, user, day, url, page = _setup(client)
    html, signed = _quoted(client, url, _form(c, day, slot="evening"), page)
    token = csrf_token(client, page)
    done = client.post(url, data={"csrf_token": token, **_form(c, day, slot="evening"), "confirm": signed})
    assert done.status_code == 303
    [booking] = _bookings()
    assert f"{booking.fee_net_yen:,}円" == _to_pay(html) == "2,500円" and booking.user_id == user.id


def test_the_desk_books_only_what_it_quoted(client):
    c, user, day, url, page = _setup(client, desk=True)
    data = {**_form(c, day), "user_email": user.email}
    _html, signed = _quoted(client, url, data, page)
    other = make_user()
    response = post_form(client, url, {**data, "user_email": other.email, "confirm": signed}, page=page)
    assert response.status_code == 409 and CHANGED in response.get_data(as_text=True)
    edited = post_form(client, url, {**data, "units": [f"s{c.slot_ids['evening']}"], "confirm": signed}, page=page)
    assert edited.status_code == 409 and _bookings() == []
    assert post_form(client, url, {**data, "confirm": signed}, page=page).status_code == 303
    [booking] = _bookings()
    assert (booking.user_id, booking.fee_net_yen) == (user.id, 1500)
