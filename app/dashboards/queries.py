"""Reads for the utilization pages: who sees which facilities, and each page's figures in a fixed number of queries."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l

from app.core.db import rows_by_id
from app.core.time import FiscalYear, today_tokyo
from app.extensions import db
from app.facilities.models import Facility, FacilityKind, Room, TimeSlot
from app.indicators import queries as indicator_queries
from app.utilization import figures
from app.utilization.access import visible_facility_ids
from app.utilization.compute import (
    BookingStats,
    LotteryDemand,
    UtilizationRow,
    booking_stats,
    compute_utilization,
    lottery_demand,
    top_purposes,
)
from app.utilization.figures import YearFigure

# The plan's targets (令和8年度末); configuration may override them (DASHBOARD_* keys).
CENTER_RATE_TARGET = Decimal("82.9")  # 区民センター利用率 (%)
KORYU_COUNT_TARGET = 350  # 伝統文化交流館「交流の間」利用件数 (件)
TARGET_LABEL = _l("令和8年度末")

WEEKDAY_LABELS = (_l("月"), _l("火"), _l("水"), _l("木"), _l("金"), _l("土"), _l("日"))


def center_rate_target() -> Decimal:
    return Decimal(str(current_app.config.get("DASHBOARD_CENTER_RATE_TARGET", CENTER_RATE_TARGET)))


def koryu_count_target() -> int:
    return int(current_app.config.get("DASHBOARD_KORYU_COUNT_TARGET", KORYU_COUNT_TARGET))


def plan_target(indicator, year: int, config_key: str, default):
    """(value, label) of the target that applies to fiscal YEAR for INDICATOR (the same rule as the indicator
    pages: indicators.queries.target_for); the DASHBOARD_* setting when configured, the plan's 令和8年度末 value
    when the catalog is not loaded (INDICATOR None)."""
    if config_key in current_app.config:
        return type(default)(str(current_app.config[config_key])), TARGET_LABEL
    target = indicator_queries.target_for(indicator, year) if indicator is not None else None
    if target is None:
        return default, TARGET_LABEL
    label = TARGET_LABEL if target.year_label == "令和8年度末" else target.year_label
    return type(default)(target.value), label


def _facilities(ids: list[int] | None) -> list[Facility]:
    stmt = sa.select(Facility).where(Facility.active.is_(True)).order_by(Facility.kind, Facility.district,
                                                                          Facility.name_ja)
    if ids is not None:
        stmt = stmt.where(Facility.id.in_(ids))
    return list(db.session.scalars(stmt))


@dataclass
class FacilityLine:
    """One facility of the overview: this year's and last year's figures."""

    facility: Facility
    current: UtilizationRow
    previous: UtilizationRow
    stats: BookingStats
    ahead: UtilizationRow | None = None  # the days after today up to the year's end (先の予約), current year only


@dataclass
class Overview:
    """The overview page: every visible facility for a fiscal year and the one before."""

    year: int
    lines: list[FacilityLine]
    months: list[tuple[int, UtilizationRow | None, UtilizationRow | None]]  # month of year, this year, last year
    center: YearFigure  # 区民センター利用率: so far and booked ahead (app.utilization.figures, as everywhere)
    center_previous: YearFigure
    koryu: YearFigure  # 「交流の間」利用件数 of the rooms its rule names
    koryu_previous: YearFigure
    koryu_rooms: list[Room]
    through: date | None = None  # the last day counted in the yearly figures while the year is not over
    center_target: Decimal = field(default_factory=center_rate_target)
    koryu_target: int = field(default_factory=koryu_count_target)
    center_target_label: object = TARGET_LABEL  # the plan's label of the target that applies to the year
    koryu_target_label: object = TARGET_LABEL


def _sum(rows: list[UtilizationRow], **key) -> UtilizationRow:
    return UtilizationRow(key, sum(r.bookable for r in rows), sum(r.booked for r in rows), sum(r.used for r in rows))


def overview(user, year: int) -> Overview:
    """The overview for fiscal YEAR: a fixed number of queries whatever the number of facilities, rooms and
    bookings (3 for the tables, a few for the plan's two figures)."""
    ids = visible_facility_ids(user)
    facilities = _facilities(ids)  # 1
    scope = [f.id for f in facilities]
    previous, current = FiscalYear(year - 1), FiscalYear(year)
    # One pass over both years' units up to today, by facility and month (the yearly and monthly figures are its
    # sums), and one over the days after today (先の予約), as app.utilization.figures counts them.
    today = today_tokyo()
    cut = min(max(today + timedelta(days=1), previous.first_day), current.end_day)
    keys = ("facility", "fiscal_year", "month")
    util = compute_utilization(start=previous.first_day, end=cut, facility_ids=scope, group_by=keys) if scope else []
    ahead = (compute_utilization(start=cut, end=current.end_day, facility_ids=scope, group_by=keys)
             if scope and cut < current.end_day else [])
    stats = booking_stats(start=previous.first_day, end=current.end_day, facility_ids=scope,
                          group_by=("facility", "fiscal_year"))  # 3
    firsts = figures.first_years(facility_ids=scope) if scope else {}
    # The plan's 区民センター利用率 of both years from the same rows (app.utilization.figures.rate_figures, as
    # center_rate computes it for the indicator pages, exports and API).
    centres = {f.id for f in facilities if f.kind == FacilityKind.COMMUNITY_CENTER}
    center = figures.rate_figures(
        [year - 1, year], today=today, since=figures.since_of(y for f, y in firsts.items() if f in centres),
        so_far=[r for r in util if r.key["facility"] in centres],
        ahead=[r for r in ahead if r.key["facility"] in centres])
    # Years before Tsudoi holds any booking of these facilities are unknown (—), not 0 %.
    since = figures.since_of(firsts.values())
    util = [r for r in util if since is not None and r.key["fiscal_year"] >= since]
    util_by = {
        (fid, fy): _sum([r for r in util if (r.key["facility"], r.key["fiscal_year"]) == (fid, fy)], facility=fid,
                        fiscal_year=fy)
        for fid, fy in {(r.key["facility"], r.key["fiscal_year"]) for r in util}
    }
    ahead_by = {fid: _sum([r for r in ahead if (r.key["facility"], r.key["fiscal_year"]) == (fid, year)],
                          facility=fid)
                for fid in {r.key["facility"] for r in ahead if r.key["fiscal_year"] == year}}
    both = util + ahead  # the months: what was used so far and what is booked for the days after today
    by_month = {m: _sum([r for r in both if r.key["month"] == m], month=m) for m in {r.key["month"] for r in both}}
    months = []
    for offset in range(12):  # April .. March, this fiscal year beside the last
        month = (3 + offset) % 12 + 1
        calendar_year = year + (1 if month < 4 else 0)
        months.append((month, by_month.get(calendar_year * 100 + month),
                       by_month.get((calendar_year - 1) * 100 + month)))
    stats_by = {(s.key["facility"], s.key["fiscal_year"]): s for s in stats}

    def util_of(fid, fy):
        return util_by.get((fid, fy)) or UtilizationRow({"facility": fid, "fiscal_year": fy}, 0, 0)

    lines = [
        FacilityLine(f, util_of(f.id, year), util_of(f.id, year - 1),
                     stats_by.get((f.id, year)) or BookingStats({"facility": f.id}, mix={}), ahead_by.get(f.id))
        for f in facilities
    ]
    plan = {i.code: i for i in indicator_queries.get_by_codes([figures.CENTER_RATE_CODE, figures.KORYU_COUNT_CODE])}
    center_target, center_label = plan_target(plan.get(figures.CENTER_RATE_CODE), year,
                                              "DASHBOARD_CENTER_RATE_TARGET", CENTER_RATE_TARGET)
    koryu_target, koryu_label = plan_target(plan.get(figures.KORYU_COUNT_CODE), year,
                                            "DASHBOARD_KORYU_COUNT_TARGET", KORYU_COUNT_TARGET)
    koryu_rooms = figures.koryu_rooms(ids)
    koryu = figures.koryu_counts([year - 1, year], visible=ids, room_ids=[room.id for room in koryu_rooms])
    return Overview(
        year=year, lines=lines, months=months, center_target=center_target, koryu_target=koryu_target,
        center_target_label=center_label, koryu_target_label=koryu_label,
        center=center[year], center_previous=center[year - 1], koryu=koryu[year], koryu_previous=koryu[year - 1],
        koryu_rooms=koryu_rooms,
        through=cut - timedelta(days=1) if previous.first_day < cut < current.end_day else None,
    )


@dataclass
class FacilityReport:
    """A facility's (or one room's) figures for a fiscal year, with the previous year beside it."""

    facility: Facility
    room: Room | None
    rooms: dict[int, Room]
    year: int
    total: UtilizationRow
    total_previous: UtilizationRow
    by_room: list[tuple[Room, UtilizationRow | None, UtilizationRow | None]]
    months: list[tuple[int, UtilizationRow | None, UtilizationRow | None]]  # month of year, current, previous
    heatmap: dict[tuple[int, str], UtilizationRow]
    slot_codes: list[str]
    slot_labels: dict[str, str]
    least_used: list[UtilizationRow]
    stats: BookingStats
    purposes: list[tuple[str, int]]
    lottery: LotteryDemand
    ahead: UtilizationRow | None = None  # the days after today up to the year's end (先の予約)
    through: date | None = None  # the last day counted in the year's figures while it is not over


def _regroup(rows: list[UtilizationRow], keys: tuple[str, ...]) -> list[UtilizationRow]:
    """ROWS summed by KEYS (a coarser grouping of the same units)."""
    sums: dict[tuple, list[int]] = {}
    for row in rows:
        total = sums.setdefault(tuple(row.key[k] for k in keys), [0, 0, 0])
        total[0] += row.bookable
        total[1] += row.booked
        total[2] += row.used
    return [UtilizationRow(dict(zip(keys, values, strict=True)), *sums[values]) for values in sorted(sums)]


def _slot_labels(facility_id: int) -> tuple[list[str], dict[str, str]]:
    """時間区分 codes in start order with a label each (the default row's label when there is one)."""
    rows = db.session.execute(
        sa.select(TimeSlot.code, TimeSlot.label_ja, TimeSlot.label_en, TimeSlot.label_easy, TimeSlot.start_time,
                  TimeSlot.weekday, TimeSlot.on_date)
        .where(TimeSlot.facility_id == facility_id)
        .order_by(TimeSlot.on_date.is_not(None), TimeSlot.weekday.is_not(None), TimeSlot.start_time)
    ).all()
    codes: list[str] = []
    labels: dict[str, str] = {}
    for row in rows:
        if row.code not in labels:
            codes.append(row.code)
            labels[row.code] = TimeSlot(label_ja=row.label_ja, label_en=row.label_en, label_easy=row.label_easy).label
    return codes, labels


def facility_report(facility: Facility, year: int, *, room: Room | None = None) -> FacilityReport:
    """The facility page's figures: 7 queries (rooms, slots, rollup coverage, utilization, stats, purposes,
    lottery) whatever the data size."""
    rooms = rows_by_id(db.session.scalars(
        sa.select(Room).where(Room.facility_id == facility.id).order_by(Room.sort_order, Room.id)))  # 1
    codes, labels = _slot_labels(facility.id)  # 2
    previous, current = FiscalYear(year - 1), FiscalYear(year)
    scope = {"facility_ids": [facility.id], "room_ids": [room.id] if room else None}
    # One grouping finer than every table of the page (a few thousand rows at most); the tables are its sums.
    # The days up to today (as the overview and the plan's figures count them); the rest of the year apart.
    cut = min(max(today_tokyo() + timedelta(days=1), previous.first_day), current.end_day)
    fine = compute_utilization(start=previous.first_day, end=cut,
                               group_by=("fiscal_year", "room", "month", "slot", "weekday"), **scope)  # 3, 4
    ahead_start = max(cut, current.first_day)
    ahead = (compute_utilization(start=ahead_start, end=current.end_day, group_by=("room", "month"), **scope)
             if ahead_start < current.end_day else [])  # 先の予約
    two_years = _regroup(fine, ("fiscal_year", "room", "month"))
    detail = _regroup([r for r in fine if r.key["fiscal_year"] == year], ("room", "slot", "weekday"))
    stats = booking_stats(start=current.first_day, end=current.end_day, **scope)[0]  # 5
    purposes = top_purposes(start=current.first_day, end=current.end_day, **scope)  # 6
    lottery = lottery_demand(start=current.first_day, end=current.end_day, **scope)  # 7
    cells = {(r.key["weekday"], r.key["slot"]) for r in detail}
    grid = [_sum([r for r in detail if (r.key["weekday"], r.key["slot"]) == cell], weekday=cell[0], slot=cell[1])
            for cell in cells]

    def total(rows):
        return UtilizationRow({}, sum(r.bookable for r in rows), sum(r.booked for r in rows),
                              sum(r.used for r in rows))

    this_year = [r for r in two_years if r.key["fiscal_year"] == year]
    last_year = [r for r in two_years if r.key["fiscal_year"] == year - 1]
    room_ids = sorted({r.key["room"] for r in two_years}, key=lambda i: (rooms[i].sort_order, i))
    by_room = []
    for room_id in room_ids:
        mine = [r for r in this_year if r.key["room"] == room_id]
        before = [r for r in last_year if r.key["room"] == room_id]
        by_room.append((rooms[room_id], total(mine) if mine else None, total(before) if before else None))
    months = []
    booked_later = [UtilizationRow({"fiscal_year": year, **r.key}, r.bookable, r.booked, r.used) for r in ahead]
    for offset in range(12):  # a month shows its days so far and, after today, what is booked ahead
        month = (3 + offset) % 12 + 1
        now_rows = [r for r in this_year + booked_later if r.key["month"] % 100 == month]
        before_rows = [r for r in last_year if r.key["month"] % 100 == month]
        months.append((month, total(now_rows) if now_rows else None, total(before_rows) if before_rows else None))
    least = sorted((r for r in detail if r.bookable), key=lambda r: (r.booked / r.bookable, -r.bookable))[:10]
    return FacilityReport(
        ahead=total(ahead) if ahead else None,
        through=cut - timedelta(days=1) if previous.first_day < cut < current.end_day else None,
        facility=facility, room=room, rooms=rooms, year=year, total=total(this_year),
        total_previous=total(last_year), by_room=by_room, months=months,
        heatmap={(r.key["weekday"], r.key["slot"]): r for r in grid},
        slot_codes=[c for c in codes if any(k[1] == c for k in ((r.key["weekday"], r.key["slot"]) for r in grid))]
        or codes,
        slot_labels=labels, least_used=least, stats=stats, purposes=purposes, lottery=lottery,
    )


def export_rows(user, year: int, facility_id: int | None = None) -> list[tuple]:
    """Rows for CSV/XLSX: facility, room, month with bookable, booked, 利用率, used, 実利用率, bookings, no-shows
    and the no-show rate (one utilization query and one booking-stats query, plus the rollup coverage).

    Units are counted on leaf rooms, bookings on the room booked: a booking of a whole (parent) room gives that
    room a row of its own with the booking columns only, so every column adds up to the facility's total."""
    ids = visible_facility_ids(user)
    if facility_id is not None:
        ids = [facility_id] if ids is None or facility_id in ids else []
    facilities = rows_by_id(_facilities(ids))
    rooms = rows_by_id(db.session.scalars(sa.select(Room).where(Room.facility_id.in_(list(facilities)))))
    fy = FiscalYear(year)
    scope = {"start": fy.first_day, "end": fy.end_day, "facility_ids": list(facilities)}
    keys = ("facility", "room", "month")
    util = {tuple(r.key[k] for k in keys): r for r in compute_utilization(group_by=keys, **scope)}
    stats = {tuple(s.key[k] for k in keys): s for s in booking_stats(group_by=keys, **scope)
             if s.bookings or s.no_show}
    facility_order = {fid: n for n, fid in enumerate(facilities)}

    def order(key):
        room = rooms[key[1]]
        return facility_order[key[0]], room.sort_order, room.id, key[2]

    result = []
    for key in sorted(util.keys() | stats.keys(), key=order):
        fid, room_id, month = key
        r, s = util.get(key), stats.get(key)
        result.append((
            year, facilities[fid].name_ja, rooms[room_id].name_ja, f"{month // 100:04d}-{month % 100:02d}",
            *((r.bookable, r.booked, "" if r.rate is None else f"{r.rate}", r.used,
               "" if r.used_rate is None else f"{r.used_rate}") if r else (None,) * 5),
            s.bookings if s else 0, s.no_show if s else 0,
            "" if s is None or s.no_show_rate is None else f"{s.no_show_rate}",
        ))
    return result


def figure_rows(user, year: int) -> list[tuple]:
    """The plan's two figures of YEAR for the exports, from the same functions as the page's cards: name,
    value so far ('' when unknown), the last day counted ('' for a whole year), booked ahead."""
    ids = visible_facility_ids(user)
    rows = []
    for name, figure in (("区民センター利用率(%)", figures.center_rate(year, visible=ids)),
                         ("伝統文化交流館「交流の間」利用件数(件)", figures.koryu_count(year, visible=ids))):
        rows.append((year, name, "" if figure.value is None else f"{figure.value}",
                     "" if figure.through is None else f"年度途中({figure.through.isoformat()}まで)",
                     "" if figure.ahead is None else f"{figure.ahead}"))
    return rows
