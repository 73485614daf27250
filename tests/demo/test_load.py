"""`flask demo load`: fills the database once, adds nothing the second time, prints working credentials."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from app.accounts.models import User
from app.core.districts import District
from app.core.permissions import Role
from app.core.time import today_tokyo
from app.demo.accounts import DEMO_ACCOUNTS, load_accounts
from app.demo.loaders import DemoReport, demo_loader, registered_loaders
from app.demo.organizations import ORGANIZATIONS
from app.extensions import db
from app.organizations.models import Organization, OrganizationKind, VerificationStatus
from tests.factories import login

ACCOUNT_LINE = re.compile(r"^\s+(\S+@\S+)\s+(\S+)\s+(resident|facility_staff|ward_staff|admin)\b", re.MULTILINE)


def _load(app):
    result = app.test_cli_runner().invoke(args=["demo", "load"])
    assert result.exit_code == 0, result.output + repr(result.exception)
    return result.output


def _counts(app) -> dict[str, int]:
    with app.app_context():
        return {
            table.name: db.session.scalar(sa.select(sa.func.count()).select_from(table))
            for table in db.metadata.sorted_tables
            if table.name not in {"audit_events", "outbox_messages"}
        }


def test_second_load_adds_nothing_and_says_so(app):
    first = _load(app)
    assert "demo data added" in first
    after_first = _counts(app)
    # Other domains' loaders may add people and groups of their own.
    assert after_first["users"] >= len(DEMO_ACCOUNTS)
    assert after_first["organizations"] >= len(ORGANIZATIONS)

    second = _load(app)
    assert "nothing added" in second
    assert _counts(app) == after_first


def test_the_utilization_rollup_is_built_over_the_demo_bookings(app):
    from app.utilization import rollup
    from app.utilization.models import UtilizationUnitRollup

    _load(app)
    with app.app_context():
        covered = rollup.coverage(db.session)
        assert covered is not None and covered[0] <= today_tokyo() < covered[1]
        booked = db.session.scalar(sa.select(sa.func.sum(UtilizationUnitRollup.booked)))
        assert booked and booked > 0


def test_printed_accounts_sign_in_with_their_passwords(app):
    output = _load(app)
    printed = {email: (password, role) for email, password, role in ACCOUNT_LINE.findall(output)}
    assert set(printed) == {spec.email for spec in DEMO_ACCOUNTS.values()}
    assert {role for _, role in printed.values()} == {role.value for role in Role}
    for spec in DEMO_ACCOUNTS.values():
        assert spec.password in output

    for email, (password, _role) in printed.items():
        client = app.test_client()
        response = login(client, email, password)
        assert response.status_code == 303, email
        # Signed in: the login page now sends the user on.
        assert client.get("/account/login").status_code == 302
    # Control: the login check would catch a wrong password.
    assert login(app.test_client(), email, password + "x").status_code == 401


def test_accounts_and_organizations_cover_roles_languages_kinds_and_states(app):
    _load(app)
    with app.app_context():
        users = {user.email: user for user in db.session.scalars(sa.select(User))}
        assert users[DEMO_ACCOUNTS["resident_en"].email].preferred_language == "en"
        assert users[DEMO_ACCOUNTS["resident_easy"].email].preferred_language == "ja-easy"
        assert users[DEMO_ACCOUNTS["admin"].email].role == Role.ADMIN
        assert users[DEMO_ACCOUNTS["facility_staff"].email].role == Role.FACILITY_STAFF
        assert all(users[spec.email].is_confirmed for spec in DEMO_ACCOUNTS.values())

        organizations = db.session.scalars(sa.select(Organization)).all()
        assert {o.kind for o in organizations} == set(OrganizationKind)
        assert {o.district for o in organizations} == set(District)
        verified = [o for o in organizations if o.status == VerificationStatus.VERIFIED]
        pending = [o for o in organizations if o.status == VerificationStatus.PENDING]
        assert verified and pending
        assert all(o.verified_until and o.verified_until >= today_tokyo() for o in verified)
        assert all(o.verified_until.month == 3 and o.verified_until.day == 31 for o in verified)
        assert all(o.verified_until is None for o in pending)


def test_the_demo_officer_signs_in_and_runs_groups_with_events(app):
    from app.events.models import EventSeries, EventStatus
    from app.organizations.models import Membership, MembershipRole

    output = _load(app)
    spec = DEMO_ACCOUNTS["officer"]
    printed = {email: password for email, password, _role in ACCOUNT_LINE.findall(output)}
    assert printed[spec.email] == spec.password
    with app.app_context():
        officer = db.session.scalar(sa.select(User).where(User.email == spec.email))
        assert officer is not None and officer.role == Role.RESIDENT and officer.preferred_language == "ja"
        groups = db.session.scalars(sa.select(Organization).join(Membership).where(
            Membership.user_id == officer.id, Membership.role == MembershipRole.OFFICER)).all()
        assert len(groups) >= 2
        assert all(group.name_ja in {o.name_ja for o in ORGANIZATIONS} for group in groups)
        assert all(group.status == VerificationStatus.VERIFIED for group in groups)
        assert OrganizationKind.NEIGHBORHOOD_ASSOCIATION in {group.kind for group in groups}
        assert db.session.scalar(sa.select(sa.func.count(EventSeries.id)).where(
            EventSeries.organization_id.in_([group.id for group in groups]),
            EventSeries.status == EventStatus.PUBLISHED))
    client = app.test_client()
    assert login(client, spec.email, printed[spec.email]).status_code == 303
    page = client.get("/organizations/mine").get_data(as_text=True)
    assert all(group.name_ja in page for group in groups)


def test_a_partly_loaded_database_is_completed(app):
    # As after an older version of the demo data: only the accounts and the first organizations exist.
    with app.app_context():
        load_accounts(db.session, DemoReport())
        db.session.add(Organization(kind=ORGANIZATIONS[0].kind, district=ORGANIZATIONS[0].district,
                                    name_ja=ORGANIZATIONS[0].name_ja))
        db.session.commit()
    output = _load(app)
    added_line = next(line for line in output.splitlines() if line.startswith("demo data added:"))
    existing_line = next(line for line in output.splitlines() if line.startswith("already there:"))
    assert f" {len(ORGANIZATIONS) - 1} organizations" in added_line
    assert "accounts" not in added_line
    assert f" {len(DEMO_ACCOUNTS)} accounts" in existing_line and " 1 organizations" in existing_line
    with app.app_context():
        names = set(db.session.scalars(sa.select(Organization.name_ja)))
        assert {spec.name_ja for spec in ORGANIZATIONS} <= names
        emails = set(db.session.scalars(sa.select(User.email)))
        assert {spec.email for spec in DEMO_ACCOUNTS.values()} <= emails


def test_refuses_in_production(app):
    app.config["ENV_NAME"] = "production"
    try:
        result = app.test_cli_runner().invoke(args=["demo", "load"])
    finally:
        app.config["ENV_NAME"] = "testing"
    assert result.exit_code != 0
    assert "production" in result.output
    assert _counts(app)["users"] == 0


def test_registry_runs_in_order_and_rejects_duplicate_names():
    names = [loader.name for loader in registered_loaders()]
    assert names.index("accounts") < names.index("organizations")
    orders = [loader.order for loader in registered_loaders()]
    assert orders == sorted(orders)
    with pytest.raises(ValueError, match="registered twice"):

        @demo_loader("accounts", order=1)
        def another_accounts_loader(session, report):  # pragma: no cover - never registered
            """Never runs."""


def test_demo_facilities_keep_the_hours_and_closing_days_their_text_gives(app):
    """The hours text is what residents read: its closing time is the last 時間区分's end, its 第N月曜日 the
    maintenance closures, and a facility whose text names no Monday has none."""
    from app.facilities.models import Closure, ClosureKind, Facility, TimeSlot

    _load(app)
    with app.app_context():
        facilities = db.session.scalars(sa.select(Facility)).all()
        assert facilities
        for facility in facilities:
            hours = facility.opening_hours_ja
            closing = re.match(r"\d+:\d\d〜(\d+):(\d\d)", hours)
            ends = db.session.scalars(sa.select(TimeSlot.end_time).where(TimeSlot.facility_id == facility.id)).all()
            assert max(ends).strftime("%-H:%M") == f"{closing[1]}:{closing[2]}", facility.name_ja
            mondays = db.session.scalars(
                sa.select(Closure.start_date).where(Closure.facility_id == facility.id,
                                                    Closure.kind == ClosureKind.REGULAR,
                                                    Closure.reason_en == "Monthly maintenance day")).all()
            named = re.search(r"第(\d)月曜日", hours)
            if named is None:
                assert mondays == [], facility.name_ja
                continue
            assert len(mondays) == 6, facility.name_ja
            for day in mondays:
                assert day.weekday() == 0 and (day.day - 1) // 7 + 1 == int(named[1]), (facility.name_ja, day)


def test_the_koryu_indicator_counts_the_demo_koryu_no_ma_only(app):
    from app.facilities.models import Room
    from app.utilization import figures

    _load(app)
    with app.app_context():
        rooms = figures.koryu_rooms()
        assert [(room.facility.name_ja, room.name_ja) for room in rooms] == [("伝統文化交流館", "交流の間")]
        others = db.session.scalars(sa.select(Room.id).where(Room.facility_id == rooms[0].facility_id,
                                                             Room.id != rooms[0].id)).all()
        assert others  # the building's meeting room is not counted
