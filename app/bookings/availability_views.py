"""Public availability pages (no login): the 空き状況 grid of a facility, the free-room search across facilities,
and a room's busy times as ICS. They read booking claims, so they live with bookings; their addresses stay under
/facilities/."""

from __future__ import annotations

from datetime import date, timedelta

from flask import Blueprint, abort, make_response, render_template, request, url_for
from flask_babel import gettext as _

from app.bookings.availability import SEARCH_STARTS, claims_between, facility_grid, find_free_rooms
from app.bookings.ical import room_busy_calendar
from app.core.args import date_arg, enum_arg
from app.core.districts import District
from app.core.filters import date_long
from app.core.time import hhmm, today_tokyo
from app.extensions import db
from app.facilities.access import active_facility_or_404
from app.facilities.availability import SYMBOLS, Status, leaves
from app.facilities.models import EquipmentKind, Facility, Room, RoomKind
from app.facilities.queries import facility_rooms, room_node, rooms_with_equipment

bp = Blueprint("availability", __name__, url_prefix="/facilities")


def status_text(status: Status) -> str:
    """The screen-reader text of a grid symbol, in the user's language."""
    return {
        Status.FREE: _("空き"),
        Status.FEW: _("残りわずか・申込中"),
        Status.TAKEN: _("予約済み"),
        Status.CLOSED: _("休館・利用不可"),
        Status.LOTTERY: _("抽選受付中"),
    }[status]


def _parse_start(view: str) -> tuple[date, str | None]:
    """The first day shown; a bad value falls back to today with a message (never a 500)."""
    today = today_tokyo()
    start, problem = date_arg("start", default=today, first=today - timedelta(days=366),
                              last=today + timedelta(days=730))
    message = {"format": _("日付の形が正しくありません(例: 2026-12-01)。今日から表示しています。"),
               "range": _("表示できる期間の外です。今日から表示しています。")}.get(problem)
    if view == "month":
        start = start.replace(day=1)
    return start, message


@bp.get("/<int:facility_id>/availability")
def grid(facility_id: int):
    """The 空き状況 grid of a facility, a week or a month (no login; never shows who booked)."""
    facility = active_facility_or_404(facility_id)
    view = "month" if request.args.get("view") == "month" else "week"
    start, problem = _parse_start(view)
    if view == "month":
        end = (start + timedelta(days=32)).replace(day=1)
        previous, following = (start - timedelta(days=1)).replace(day=1), end
    else:
        end = start + timedelta(days=7)
        previous, following = start - timedelta(days=7), end
    data = facility_grid(facility, start, end)
    # Labels computed once per page, not once per cell: a month of a big centre has thousands of cells.
    texts = {status: status_text(status) for status in Status}
    slot_labels = {slot.id: f"{slot.label} {hhmm(slot.start)}–{hhmm(slot.end)}"
                   for day_slots in data.grid.slots.values() for slot in day_slots}
    day_labels = {day: date_long(day) for day in data.grid.days}
    # Filters only hide rows: the grid is computed for every room because halves and wholes depend on each other.
    room_kind = enum_arg("kind", RoomKind)
    try:
        capacity = max(0, int(request.args.get("capacity") or 0))
    except ValueError:
        capacity = 0
    equipment = enum_arg("equipment", EquipmentKind)
    shown = [r for r in data.rooms if r.capacity >= capacity and (room_kind is None or r.kind == room_kind)]
    if equipment:  # one more query, only when the filter is used
        equipped = rooms_with_equipment(equipment, [r.id for r in shown])
        shown = [r for r in shown if r.id in equipped]
    return render_template(
        "facilities/availability.html", facility=facility, data=data, view=view, start=start, end=end,
        previous=previous, following=following, problem=problem, symbols=SYMBOLS, texts=texts,
        Status=Status, today=today_tokyo(), last_day=end - timedelta(days=1), slot_labels=slot_labels,
        day_labels=day_labels, book_url=url_for("bookings.new"), shown_rooms=shown, room_kinds=list(RoomKind),
        room_kind=room_kind, capacity=capacity or "", equipment_kinds=list(EquipmentKind), equipment=equipment,
    )




@bp.get("/search")
def search():
    """Find a free room on a day across all facilities (filters: district, room kind, capacity, slot start)."""
    today = today_tokyo()
    problems = []
    day, problem = date_arg("day", default=today, first=today, last=today + timedelta(days=366))
    if problem == "format":
        problems.append(_("日付の形が正しくありません(例: 2026-12-01)。今日の空きを表示しています。"))
    elif problem == "range":
        problems.append(_("今日から1年先までの日を選んでください。今日の空きを表示しています。"))
    try:
        capacity = max(0, min(int(request.args.get("capacity") or 0), 10000))
    except ValueError:
        capacity = 0
        problems.append(_("人数は数字で入力してください。"))
    try:
        start_minute = int(request.args.get("start") or 0) or None
    except ValueError:
        start_minute = None
    if start_minute not in SEARCH_STARTS:
        start_minute = None
    district = enum_arg("district", District)
    kind = enum_arg("kind", RoomKind)
    equipment = enum_arg("equipment", EquipmentKind)
    results = find_free_rooms(day, district=district, kind=kind, min_capacity=capacity,
                                      start_minute=start_minute, equipment=equipment)
    return render_template("facilities/search.html", results=results, day=day, capacity=capacity or "",
                           start_minute=start_minute, district=district, kind=kind, districts=list(District),
                           room_kinds=list(RoomKind), starts=SEARCH_STARTS, problems=problems,
                           equipment_kinds=list(EquipmentKind), equipment=equipment, hm=hhmm, times=_times,
                           free_label=_("空いている時間"))



def _times(units) -> str:
    """'09:00–12:00, 13:00–17:00': formatted in Python, not by a template macro per unit (a page has hundreds)."""
    return ", ".join(f"{hhmm(u.start)}–{hhmm(u.end)}" for u in units)


@bp.get("/rooms/<int:room_id>/busy.ics")
def room_busy(room_id: int):
    """A room's busy times as ICS (a whole hall is busy when a half is booked, and the reverse); never names."""
    room = db.session.get(Room, room_id)
    if room is None or not room.active:
        abort(404)
    rooms = facility_rooms(room.facility_id)
    leaf_ids = leaves([room_node(r) for r in rooms]).get(room.id, frozenset({room.id}))
    today = today_tokyo()
    claims = claims_between(sorted(leaf_ids), today - timedelta(days=30), today + timedelta(days=366))
    cells_by_day: dict[date, set[int]] = {}
    for _leaf, day, cell in claims:
        cells_by_day.setdefault(day, set()).add(cell)
    facility = db.session.get(Facility, room.facility_id)
    response = make_response(room_busy_calendar(room.id, f"{facility.name} {room.name}", cells_by_day))
    response.headers["Content-Type"] = "text/calendar; charset=utf-8"
    response.headers["Cache-Control"] = "public, max-age=300"
    return response
