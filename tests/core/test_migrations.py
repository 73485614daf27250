"""The migrations build, tear down and rebuild a fresh database, and match the models exactly (no drift).

The drift check catches a model changed or added without its Alembic revision, whoever wrote it.
"""

from __future__ import annotations

from contextlib import ExitStack
from datetime import UTC, date, datetime, time

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from app.accounts import services as account_services
from app.accounts.models import ApiToken, User
from app.bookings.models import Booking, BookingState
from app.events.models import CheckinCode, EventSeries, Registration, RegistrationStatus
from app.extensions import db
from tests.apps import extra_app
from tests.databases import PG_URL, pg_database

BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])


@pytest.fixture(params=BACKENDS)
def fresh_database_url(request, tmp_path):
    """A brand-new, empty database (not the one the other tests share)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
    else:
        with pg_database(PG_URL) as url:
            yield url


def _tables(conn) -> set[str]:
    return set(sa.inspect(conn).get_table_names()) - {"alembic_version"}


def _drift(conn) -> list:
    context = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": False})
    return compare_metadata(context, db.metadata)


def test_upgrade_downgrade_upgrade_and_no_drift(fresh_database_url):
    with extra_app("testing", SQLALCHEMY_DATABASE_URI=fresh_database_url) as fresh, fresh.app_context():
        upgrade(revision="heads")
        with db.engine.connect() as conn:
            assert _tables(conn) == set(db.metadata.tables), "tables differ after the first upgrade"

        downgrade(revision="base")
        with db.engine.connect() as conn:
            assert _tables(conn) == set(), "downgrade to base left tables behind"

        upgrade(revision="heads")
        with db.engine.connect() as conn:
            assert _tables(conn) == set(db.metadata.tables)
            differences = _drift(conn)
        assert differences == [], "models and migrations differ; write a revision:\n" + "\n".join(
            map(repr, differences)
        )


def test_revisions_follow_the_naming_convention():
    from pathlib import Path

    from alembic.script import ScriptDirectory
    from flask import current_app

    with extra_app("testing") as fresh, fresh.app_context():
        config = current_app.extensions["migrate"].migrate.get_config()
        revisions = list(ScriptDirectory.from_config(config).walk_revisions())
    assert [r.revision for r in revisions if r.down_revision is None] == ["0001_foundation"]
    for revision in revisions:
        # <NNNN>_<topic>.py holds revision "<NNNN>_<topic>", with both directions written.
        assert Path(revision.path).stem == revision.revision, revision.path
        assert callable(getattr(revision.module, "upgrade", None))
        assert callable(getattr(revision.module, "downgrade", None))


# Upgrading a database that holds data (#20). The milestones are where earlier sessions left the schema: 0004, the
# first with every kind of row below; 0019, the end of the first session's chain; 0022, the end of the second's;
# the last revision is covered by the downgrade and upgrade again. The rows are written against the tables as the
# database has them at the milestone (reflected, not the models of today): columns that later revisions add must
# take a default, since an upgrade may not fail on rows that existed before it.
MILESTONES = ["0004_facilities_bookings", "0019_events_more", "0022_facility_kana"]
HERE = "postgresql" if PG_URL else "sqlite"  # once per database run: the suite runs on each database in turn

_CREATED = datetime(2026, 11, 1, 0, 0)
_ROWS = [
    ("users", dict(id=1, email="migrated@example.jp", display_name="移行さん", preferred_language="ja",
                   role="resident", created_at=_CREATED, email_confirmed_at=_CREATED, password_changed_at=_CREATED)),
    ("api_tokens", dict(id=1, user_id=1, name="古いトークン", token_hash="a" * 64, prefix="tsd_old",
                        created_at=_CREATED)),
    ("organizations", dict(id=1, kind="neighborhood_association", district="shiba", name_ja="芝移行町会",
                           status="verified", verified_until=date(2027, 3, 31), created_at=_CREATED,
                           updated_at=_CREATED)),
    ("organization_memberships", dict(id=1, organization_id=1, user_id=1, role="officer", created_at=_CREATED)),
    ("facilities", dict(id=1, kind="community_center", district="shiba", name_ja="移行区民センター",
                        address_ja="港区芝1-1-1", closed_on_holidays=False, window_days_resident=90,
                        window_days_other=60, min_lead_days=0, max_active_per_month=8, cancel_deadline_days=3,
                        late_cancel_ban_days=0, no_show_ban_days=0, tentative_hold_days=7, active=True,
                        created_at=_CREATED)),
    ("rooms", dict(id=1, facility_id=1, kind="meeting", name_ja="会議室1", capacity=20, hourly=False,
                   requires_approval=False, verified_groups_only=False, sort_order=1, active=True)),
    ("time_slots", dict(id=1, facility_id=1, code="morning", label_ja="午前", start_time=time(9, 0),
                        end_time=time(12, 0))),
    ("bookings", dict(id=1, facility_id=1, room_id=1, day=date(2026, 11, 20), state="confirmed",
                      category="resident", purpose="町会の会合", attendees=12, fee_gross_yen=1000,
                      fee_reduction_yen=500, fee_net_yen=500, reduction_percent=50, created_at=_CREATED,
                      late_cancellation=False, user_id=1, organization_id=1)),
    ("booking_items", dict(id=1, booking_id=1, slot_code="morning", label_ja="午前", start_minute=540,
                           end_minute=720, fee_yen=1000)),
    ("booking_claims", dict(id=1, booking_id=1, room_id=1, day=date(2026, 11, 20), cell=18)),
    ("event_series", dict(id=1, organization_id=1, title_ja="ＢＯＮ踊り", search_text="ＢＯＮ踊り 芝移行町会",
                          category="community", district="shiba", fee_yen=0, registration_required=True,
                          wheelchair_accessible=True, sign_language=False, captions=False, childcare=False,
                          no_smoking=True, foreign_languages="en", frequency="once",
                          recurrence={"kind": "once", "first": "2026-11-22", "until": None, "nth": None,
                                      "weekday": None, "dates": []},
                          start_time=time(18, 0), end_time=time(20, 0), status="published", created_at=_CREATED,
                          updated_at=_CREATED)),
    ("event_occurrences", dict(id=1, series_id=1, starts_at=datetime(2026, 11, 22, 9, 0),
                               ends_at=datetime(2026, 11, 22, 11, 0), capacity=30, status="scheduled", sequence=0,
                               created_at=_CREATED, updated_at=_CREATED)),
    ("event_registrations", dict(id=1, occurrence_id=1, user_id=1, status="confirmed", queued_at=_CREATED,
                                 created_at=_CREATED, updated_at=_CREATED)),
]


def _tables_now(conn) -> dict[str, sa.Table]:
    """The tables of _ROWS as the database has them at its current revision (not as the models have them today)."""
    metadata = sa.MetaData()
    metadata.reflect(conn, only=[name for name, _row in _ROWS])
    return dict(metadata.tables)


def _insert_rows(conn) -> None:
    tables = _tables_now(conn)
    for name, row in _ROWS:
        values = dict(row)
        if name == "users":
            values["password_hash"] = account_services.hash_password("migrated-horse-battery-42")
        conn.execute(tables[name].insert().values(**{k: _stored(conn, v) for k, v in values.items()}))
    if conn.dialect.name == "postgresql":  # the ids were given: the sequences must go on after them
        for name, _row in _ROWS:
            conn.execute(sa.select(sa.func.setval(sa.func.pg_get_serial_sequence(name, "id"), 1)))


def _stored(conn, value):
    """VALUE for the column: PostgreSQL's timestamptz takes it in UTC, SQLite's naive UTC text as it is."""
    if isinstance(value, datetime) and conn.dialect.name == "postgresql":
        return value.replace(tzinfo=UTC)
    return value


def _snapshot(conn) -> dict:
    """Every column written by _ROWS, as the database gives it back (search_text aside: 0019 normalises it)."""
    snapshot, tables = {}, _tables_now(conn)
    for name, row in _ROWS:
        table = tables[name]
        columns = [table.c[c] for c in row if c not in ("search_text",)]
        snapshot[name] = conn.execute(sa.select(*columns).order_by(table.c.id)).all()
    return snapshot


def _check_readable_at_head(milestone: str) -> None:
    """The ORM of today reads the migrated rows, and the data migrations did their work."""
    user = db.session.get(User, 1)
    assert account_services.verify_password(user, "migrated-horse-battery-42")
    assert db.session.scalar(sa.select(ApiToken.scope).where(ApiToken.id == 1)) == "full"
    booking = db.session.get(Booking, 1)
    assert (booking.state, booking.fee_net_yen, [i.label_ja for i in booking.items]) == (
        BookingState.CONFIRMED, 500, ["午前"])
    series = db.session.get(EventSeries, 1)
    if milestone < "0019":  # NFKC and case-folded by 0019 (rows written after it are the app's to normalise)
        assert series.search_text == "bon踊り 芝移行町会"
    assert series.recurrence["first"] == "2026-11-22" and series.foreign_language_codes == ["en"]
    assert [o.starts_at.replace(tzinfo=None) for o in series.occurrences] == [datetime(2026, 11, 22, 9, 0)]
    registration = db.session.get(Registration, 1)
    assert registration.status == RegistrationStatus.CONFIRMED
    # 0023 gave the confirmed registration its check-in code.
    assert db.session.scalar(sa.select(sa.func.count()).select_from(CheckinCode)
                             .where(CheckinCode.registration_id == 1)) == 1


@pytest.mark.parametrize("milestone", MILESTONES)
def test_upgrading_a_database_with_data_keeps_it(milestone, tmp_path):
    with ExitStack() as stack:
        url = (stack.enter_context(pg_database(PG_URL)) if HERE == "postgresql"
               else f"sqlite:///{tmp_path / 'milestone.sqlite3'}")
        fresh = stack.enter_context(extra_app("testing", SQLALCHEMY_DATABASE_URI=url))
        with fresh.app_context():
            upgrade(revision=milestone)
            with db.engine.begin() as conn:
                _insert_rows(conn)
                before = _snapshot(conn)

            upgrade(revision="heads")
            with db.engine.connect() as conn:
                assert _snapshot(conn) == before
            _check_readable_at_head(milestone)
            db.session.remove()

            downgrade(revision="-1")
            upgrade(revision="heads")
            with db.engine.connect() as conn:
                assert _snapshot(conn) == before
            _check_readable_at_head(milestone)
            db.session.remove()


def _p09_05_1_rules(conn) -> list[tuple[str, str]]:
    return sorted(conn.execute(sa.text(
        "SELECT r.match, r.value FROM indicator_rules r JOIN indicators i ON i.id = r.indicator_id "
        "WHERE i.code = 'P09-05-1'")).all())


def test_0025_moves_p09_05_1_to_the_ward_marks_unless_staff_saved_its_rules(tmp_path):
    """P09-05-1 counted every 地域活動・交流 event by its starting rule; 0025 moves it to the events ward staff mark
    (区と連携・協働, 区が支援), and back on downgrade, but leaves rules staff saved themselves alone."""
    with ExitStack() as stack:
        url = (stack.enter_context(pg_database(PG_URL)) if HERE == "postgresql"
               else f"sqlite:///{tmp_path / 'ward.sqlite3'}")
        fresh = stack.enter_context(extra_app("testing", SQLALCHEMY_DATABASE_URI=url))
        with fresh.app_context():
            upgrade(revision="0024_api_token_scope_expiry")
            with db.engine.begin() as conn:
                created = _stored(conn, _CREATED)
                conn.execute(sa.text(
                    "INSERT INTO indicators (id, code, sort_order, policy, name, direction, source_kind, created_at, "
                    "updated_at) VALUES (1, 'P09-05-1', 1, 9, '地域と連携・協働、支援しているイベントの参加者数', "
                    "'higher', 'participant_sum', :at, :at)"), {"at": created})
                conn.execute(sa.text("INSERT INTO indicator_rules (indicator_id, match, value, created_at) "
                                     "VALUES (1, 'category', 'community', :at)"), {"at": created})
            upgrade(revision="heads")
            with db.engine.connect() as conn:
                assert _p09_05_1_rules(conn) == [("ward_relation", "collaboration"), ("ward_relation", "support")]
                assert conn.execute(sa.text("SELECT ward_relation FROM event_series")).all() == []
            downgrade(revision="0024_api_token_scope_expiry")
            with db.engine.begin() as conn:
                assert _p09_05_1_rules(conn) == [("category", "community")]
                # Staff saved the rules themselves: the upgrade keeps them.
                conn.execute(sa.text("UPDATE indicators SET rules_edited_at = :at"), {"at": created})
            upgrade(revision="heads")
            with db.engine.connect() as conn:
                assert _p09_05_1_rules(conn) == [("category", "community")]
            db.session.remove()
