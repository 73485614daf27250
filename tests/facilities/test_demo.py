"""The facilities demo loader: real-looking Minato facilities, bookings without overlaps, idempotent; CLI expiry."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from app.bookings.models import Booking, BookingClaim, BookingState
from app.core.time import utcnow
from app.demo.facilities import FACILITIES
from app.extensions import db
from app.facilities.models import Facility, FacilityStaff, Room


def test_demo_facilities_load_once_with_bookings_and_a_working_grid(app, client):
    for _ in range(2):
        result = app.test_cli_runner().invoke(args=["demo", "load"])
        assert result.exit_code == 0, result.output
    with app.app_context():
        names = set(db.session.scalars(sa.select(Facility.name_ja)))
        assert names == {spec.name_ja for spec in FACILITIES}
        assert {"赤坂区民センター", "伝統文化交流館"} <= names
        assert db.session.scalar(sa.select(Room.id).where(Room.name_ja == "交流の間"))
        bookings = db.session.scalar(sa.select(sa.func.count(Booking.id)))
        claims = db.session.scalar(sa.select(sa.func.count(BookingClaim.id)))
        assert bookings > 50 and claims >= bookings
        assert db.session.scalar(sa.select(sa.func.count(FacilityStaff.id))) == 1
        # Weekly series booked for demo groups (once, however many runs), each date an ordinary booking.
        from app.bookings.models import BookingSeries

        series = db.session.scalars(sa.select(BookingSeries)).all()
        assert len(series) == 2 and all(s.organization_id for s in series)
        assert db.session.scalar(sa.select(sa.func.count(Booking.id)).where(Booking.series_id == series[0].id)) >= 4
        akasaka = db.session.scalar(sa.select(Facility.id).where(Facility.name_ja == "赤坂区民センター"))
    page = client.get(f"/facilities/{akasaka}/availability?view=month")
    assert page.status_code == 200 and "×" in page.get_data(as_text=True)


def test_expire_command_is_safe_to_repeat(app):
    from tests.facilities.factories import make_center
    from tests.factories import make_user

    c = make_center()
    user = make_user()
    with app.app_context():
        db.session.add(Booking(user_id=user.id, facility_id=c.facility_id, room_id=c.meeting_id,
                               day=utcnow().date() + timedelta(days=30), state=BookingState.TENTATIVE,
                               category="resident", purpose="期限切れの試験", attendees=3, fee_gross_yen=100,
                               fee_net_yen=100, hold_until=utcnow() - timedelta(hours=1)))
        db.session.commit()
    runner = app.test_cli_runner()
    assert "expired 1" in runner.invoke(args=["bookings", "expire"]).output
    assert "expired 0" in runner.invoke(args=["bookings", "expire"]).output
    with app.app_context():
        assert db.session.scalar(sa.select(Booking.state)) == BookingState.EXPIRED


def test_demo_english_agrees_with_the_catalog_and_reads_as_english():
    """One English name for a facility in the demo data and the catalog; opening hours in every language."""
    from babel.messages.pofile import read_po

    from app.demo.facilities import opening_hours_in
    from tests.core.test_catalog_wording import CATALOGS, JAPANESE_TEXT

    with open(CATALOGS["en"], "rb") as fileobj:
        english = read_po(fileobj)
    named = [spec for spec in FACILITIES if english.get(spec.name_ja)]
    assert named, "the catalog names no demo facility"
    for spec in named:
        assert spec.name_en == english.get(spec.name_ja).string, spec.name_ja
    for spec in FACILITIES:
        assert not JAPANESE_TEXT.search(spec.name_en + spec.address_en + opening_hours_in(spec.opening_hours_ja, "en"))
    assert opening_hours_in("9:00〜21:30(年末年始・第3月曜日は休館)", "en") == (
        "9:00–21:30 (closed Dec 29–Jan 3 and on the 3rd Monday of each month)")
    assert opening_hours_in("9:00〜21:00(年末年始は休館)", "easy") == (
        "9:00〜21:00。やすみ: ねんまつ ねんし(12月29日〜1月3日)")
