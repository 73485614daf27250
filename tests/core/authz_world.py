"""The shared world of the authorization matrix: eight personas, two groups, two facilities, resident A's things."""

from __future__ import annotations

from datetime import date, timedelta
from types import SimpleNamespace

from app.accounts.models import User
from app.core.permissions import Role
from app.extensions import db
from app.facilities.models import Closure, ClosureKind
from tests.api.factories import make_token
from tests.events.factories import make_series, occurrence_ids
from tests.facilities.factories import assign_staff, make_center
from tests.factories import DEFAULT_PASSWORD, app_context, csrf_token, make_user
from tests.organizations.factories import make_organization
from tests.utilization.factories import add_booking

# The order of the outcome columns in the matrix.
PRIVATE_EMAIL = "authz-private-contact@example.jp"  # group X's contact for staff, never shown to the public
DRAFT_TITLE = "公開前の下書きイベント"  # must appear in no public list, feed or export
PERSONAS = ("anon", "res_a", "res_b", "off_x", "off_y", "staff_f", "ward", "admin")


def add_closure(facility_id: int) -> int:
    """A committed closure of FACILITY_ID a month ahead; returns its id (a throwaway target for deletion)."""
    start = date.today() + timedelta(days=30)
    with app_context():
        closure = Closure(facility_id=facility_id, kind=ClosureKind.TEMPORARY, start_date=start,
                          end_date=start + timedelta(days=1), reason_ja="設備点検")
        db.session.add(closure)
        db.session.commit()
        return closure.id


def add_photo_row(facility_id: int) -> int:
    """A committed photo row of FACILITY_ID without a file; returns its id (a throwaway target for deletion)."""
    import secrets

    from app.facilities.models import FacilityPhoto

    with app_context():
        photo = FacilityPhoto(facility_id=facility_id, file_name=f"{secrets.token_hex(16)}.jpg", alt_ja="外観")
        db.session.add(photo)
        db.session.commit()
        return photo.id


def _add_images(app, w, series_ids) -> None:
    """Give the series an image (a tiny JPEG) so that the image route answers by visibility, not by absence."""
    import io

    from PIL import Image

    from app.core import images
    from app.events.models import EventSeries

    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), "white").save(buffer, "JPEG")
    with app.app_context():
        for series_id in series_ids:
            name = images.store(buffer.getvalue())
            db.session.get(EventSeries, series_id).image_name = name
            w.image_files.append(images.path_of(name))
        db.session.commit()


def _add_logos(app, w, org_ids) -> None:
    """Give the groups a logo (a tiny JPEG) so that the logo route answers by visibility, not by absence."""
    import io

    from PIL import Image

    from app.core import images
    from app.organizations.models import Organization

    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), "white").save(buffer, "JPEG")
    with app.app_context():
        for org_id in org_ids:
            name = images.store(buffer.getvalue(), kind="logos")
            db.session.get(Organization, org_id).logo_name = name
            w.image_files.append(images.path_of(name, kind="logos"))
        db.session.commit()


def _add_facility_photos(app, w) -> tuple[int, int]:
    """A photo of facility F and one of G (tiny JPEGs), removed with the other images after the test."""
    import io

    from PIL import Image

    from app.facilities import photos

    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), "white").save(buffer, "JPEG")
    made = []
    with app.test_request_context():
        for facility_id in (w.facility_f, w.facility_g):
            facility = db.session.get(photos.Facility, facility_id)
            photo = photos.add_photo(facility=facility, room_id=None, data=buffer.getvalue(), alt_ja="外観",
                                     actor=db.session.get(User, w.users["admin"].id))
            w.image_files.append(photos.path_of(photo.file_name))
            made.append(photo.id)
        db.session.commit()
    return made[0], made[1]


def _add_report(app, occurrence_id: int, officer_id: int) -> int:
    """A submitted participation report of OCCURRENCE_ID (the target of staff approval); returns its id."""
    from app.participation.models import CountingMethod, ParticipationReport, ReportStatus

    with app.app_context():
        report = ParticipationReport(occurrence_id=occurrence_id, revision=1, is_latest=True, total=12,
                                     counting_method=CountingMethod.HEAD_COUNT, status=ReportStatus.SUBMITTED,
                                     submitted_by_id=officer_id)
        db.session.add(report)
        db.session.commit()
        return report.id


def add_lottery_period(facility_id: int, months_ahead: int = 5) -> int:
    """A lottery period of the facility MONTHS_AHEAD months ahead whose 町会 and individual windows are open now."""
    from app.core.time import today_tokyo
    from app.lottery import periods
    from app.lottery.models import INDIVIDUAL
    from tests.lottery.factories import NEIGHBORHOOD, at, open_period, spec_for

    today = today_tokyo()
    year, month = divmod(today.year * 12 + today.month - 1 + months_ahead, 12)
    tiers = [periods.TierSpec([NEIGHBORHOOD, INDIVIDUAL], today - timedelta(days=1), today + timedelta(days=20))]
    return open_period(facility_id, spec_for(
        date(year, month + 1, 1), tiers_from=today, closes=today + timedelta(days=20), draw=today + timedelta(days=30),
        confirm=today + timedelta(days=40), leftovers=at(today + timedelta(days=45), 9), tiers=tiers))


def add_lottery_entry(w) -> int:
    """An entry of group X (by its officer) in facility F's lottery (a fresh one for each allowed withdrawal)."""
    from app.lottery.models import LotteryEntry, LotteryPeriod, LotteryPreference

    with app_context():
        period = db.session.get(LotteryPeriod, w.lottery_f)
        entry = LotteryEntry(period_id=period.id, user_id=w.users["off_x"].id, organization_id=w.org_x,
                             group_key=f"org:{w.org_x}", tier=1)
        entry.preferences = [LotteryPreference(rank=1, room_id=w.room_f, day=period.start_date, slot_code="morning")]
        db.session.add(entry)
        db.session.commit()
        return entry.id


def add_alerts(app, w) -> None:
    """Resident A's slot watches (one to delete, one behind the e-mail's unsubscribe link) and reminder cancel links
    (a registration of another resident for the event link, resident A's booking for the booking link)."""
    from app.alerts import reminders
    from app.alerts import services as alerts
    from app.alerts.models import ReminderKind, SentReminder
    from app.events import registrations as registration_services

    day = date.today() + timedelta(days=20)
    reminded = make_user(email="authz-reminded@example.jp")
    with app.test_request_context():
        user_a = db.session.get(User, w.users["res_a"].id)
        w.watch_a = alerts.add_watch(user=user_a, facility_id=w.facility_f, day=day, room_id=w.room_f).id
        w.unsubscribe_token = alerts.unsubscribe_token(alerts.add_watch(user=user_a, facility_id=w.facility_f,
                                                                        day=day))
        registration = registration_services.register(occurrence_id=w.occ_x, user=db.session.get(User, reminded.id))
        event_reminder = SentReminder(kind=ReminderKind.EVENT_DAY_BEFORE, registration_id=registration.id)
        booking_reminder = SentReminder(kind=ReminderKind.BOOKING_BEFORE_USE, booking_id=w.booking_a)
        db.session.add_all([event_reminder, booking_reminder])
        db.session.flush()
        w.cancel_event_token = reminders.cancel_token(event_reminder)
        w.cancel_booking_token = reminders.cancel_token(booking_reminder)
        db.session.commit()


def remove_images(w) -> None:
    """Delete the image files the world stored."""
    for path in w.image_files:
        path.unlink(missing_ok=True)


def _add_series(w, day) -> tuple[int, int]:
    """A weekly series of resident A at facility F (booking A is its first date) and one of group Y at G."""
    from app.bookings.models import Booking, BookingSeries
    from app.facilities.models import Room, UserCategory

    made = []
    # The group's series was made by its other officer: officer Y sees and cancels it as an officer of the group.
    for user_id, organization, room_id in ((w.users["res_a"].id, None, w.room_f), (w.off_y2, w.org_y, w.room_g)):
        series = BookingSeries(user_id=user_id, organization_id=organization, room_id=room_id,
                               facility_id=db.session.get(Room, room_id).facility_id, first_day=day, interval_weeks=1,
                               count=4, unit_keys=["x"], purpose="毎週の体操", attendees=5,
                               category=UserCategory.RESIDENT, created_by_id=user_id)
        db.session.add(series)
        db.session.flush()
        made.append(series.id)
    db.session.get(Booking, w.booking_a).series_id = made[0]
    return made[0], made[1]


def build_world(app) -> SimpleNamespace:
    """Users, groups X and Y with officers, facilities F (with staff) and G, resident A's booking, registration,
    feed tokens and guest links, events of group X in three states, and one signed-in test client per persona."""
    from app.bookings import ical as booking_ical
    from app.events import registrations as registration_services
    from app.events.models import EventStatus
    from app.indicators import services as indicator_services
    from app.organizations import services as organization_services
    from app.organizations.models import Membership, MembershipRole, Organization

    w = SimpleNamespace()
    roles = {"res_a": Role.RESIDENT, "res_b": Role.RESIDENT, "off_x": Role.RESIDENT, "off_y": Role.RESIDENT,
             "staff_f": Role.FACILITY_STAFF, "ward": Role.WARD_STAFF, "admin": Role.ADMIN}
    w.users = {name: make_user(email=f"authz-{name.replace('_', '')}@example.jp", role=role)
               for name, role in roles.items()}
    member = make_user(email="authz-member@example.jp")

    w.org_x = make_organization(name="港区テスト町会X", officer_id=w.users["off_x"].id,
                                contact_email=PRIVATE_EMAIL).id
    w.org_y = make_organization(name="港区テスト町会Y", officer_id=w.users["off_y"].id).id
    w.org_pending = make_organization(name="確認待ちの会", verified=False).id
    w.off_y2 = make_user(email="authz-offy2@example.jp").id  # group Y's other officer (its booking and series)
    with app.test_request_context():  # services build URLs for their e-mails
        membership = Membership(organization_id=w.org_x, user_id=member.id, role=MembershipRole.MEMBER)
        db.session.add(membership)
        db.session.add(Membership(organization_id=w.org_y, user_id=w.off_y2, role=MembershipRole.OFFICER))
        db.session.flush()
        w.member_x = membership.id
        w.invitation = organization_services.invite(
            db.session.get(Organization, w.org_x), inviter=db.session.get(User, w.users["off_x"].id),
            email="authz-invitee@example.jp", role=MembershipRole.MEMBER)
        indicator_services.load_catalog()
        db.session.commit()

    center_f, center_g = make_center(name="テスト施設F"), make_center(name="テスト施設G")
    w.facility_f, w.facility_g = center_f.facility_id, center_g.facility_id
    w.room_f, w.room_g = center_f.meeting_id, center_g.meeting_id
    assign_staff(w.users["staff_f"].id, w.facility_f)
    day = date.today() + timedelta(days=20)
    w.booking_a = add_booking(w.room_f, day, [(540, 720)])
    w.booking_g = add_booking(w.room_g, day, [(540, 720)])
    w.booking_y = add_booking(w.room_g, day, [(780, 1020)], organization_id=w.org_y)  # by group Y's other officer
    w.closure_f, w.closure_g = add_closure(w.facility_f), add_closure(w.facility_g)
    w.lottery_f, w.lottery_g = add_lottery_period(w.facility_f), add_lottery_period(w.facility_g)
    w.entry_x = add_lottery_entry(w)

    off_x = w.users["off_x"].id
    w.event_x = make_series(organization_id=w.org_x, actor_id=off_x).id
    w.draft_x = make_series(organization_id=w.org_x, actor_id=off_x, status=EventStatus.DRAFT,
                            texts={"title_ja": DRAFT_TITLE, "summary_ja": "まだ公開していません。"}).id
    w.submitted_x = make_series(organization_id=w.org_x, actor_id=off_x, status=EventStatus.SUBMITTED).id
    w.cancel_x = make_series(organization_id=w.org_x, actor_id=off_x).id  # the API cancels this one
    w.occ_x = occurrence_ids(w.event_x)[0]
    w.occ_draft_x = occurrence_ids(w.draft_x)[0]
    with app.test_request_context():
        from app.bookings.models import Booking

        for booking_id in (w.booking_a, w.booking_g):
            db.session.get(Booking, booking_id).user_id = w.users["res_a"].id
        db.session.get(Booking, w.booking_y).user_id = w.off_y2
        w.series_a, w.series_y = _add_series(w, day)
        user_a = db.session.get(User, w.users["res_a"].id)
        w.registration_a = registration_services.register(occurrence_id=w.occ_x, user=user_a).id
        guest = registration_services.register_guest(occurrence_id=w.occ_x, email="authz-guest@example.jp",
                                              name="ゲスト", language="ja")
        w.guest_cancel_token = registration_services.guest_cancel_token(guest)
        w.guest_confirm_token = registration_services.guest_confirm_token(
            occurrence_id=w.occ_x, email="authz-guest2@example.jp", name="ゲスト2", language="ja")
        w.booking_feed_a = booking_ical.feed_token(user_a)
        w.events_feed_a = registration_services.my_feed_token(user_a)
        db.session.commit()

    w.report_x = _add_report(app, w.occ_x, w.users["off_x"].id)
    add_alerts(app, w)
    w.image_files = []
    w.photo_f, w.photo_g = _add_facility_photos(app, w)
    if "events.image" in app.view_functions:
        _add_images(app, w, (w.event_x, w.draft_x))
    if "organizations.logo" in app.view_functions:
        _add_logos(app, w, (w.org_x, w.org_pending))

    # API: one bearer token per signed-in persona, and a second token of A as the target of revocation.
    w.bearer = {name: make_token(user)[1] for name, user in w.users.items()}
    w.token_a2 = make_token(w.users["res_a"], name="もう一つ")[0]

    w.clients, w.csrf = {}, {}
    for name in PERSONAS:
        client = app.test_client()
        if name == "anon":
            w.csrf[name] = csrf_token(client, "/account/login")
        else:
            response = client.post("/account/login", data={
                "csrf_token": csrf_token(client, "/account/login"), "email": w.users[name].email,
                "password": DEFAULT_PASSWORD})
            assert response.status_code in (302, 303), f"{name} could not sign in"
            w.csrf[name] = csrf_token(client, "/account/profile")
        w.clients[name] = client
    return w
