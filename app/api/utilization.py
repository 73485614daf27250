"""/api/v1/utilization: bookable, booked and used slot counts and 利用率 for staff (bearer token, staff roles)."""

from __future__ import annotations

from flask.views import MethodView
from flask_babel import lazy_gettext as _l
from flask_smorest import Blueprint
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from app.api.schemas import decimal_string
from app.api.security import TokenForbidden, current_api_user, token_required
from app.core.errors import DomainError
from app.core.i18n import plain
from app.core.permissions import Role
from app.extensions import db
from app.facilities.models import Room
from app.utilization import figures
from app.utilization.access import visible_facility_ids
from app.utilization.compute import FORMULAS, compute_utilization

blp = Blueprint(
    "api_utilization",
    __name__,
    description="利用率 (utilization) of facilities and rooms for staff. A unit is one 時間区分 of one leaf room on "
    "one day (one hour for rooms let by the hour); bookable = the template's units minus closures (休館日, "
    "臨時休館, 行政使用); booked = bookable units with a confirmed or tentative (仮予約) booking; rate = booked / "
    "bookable in percent; used = booked units of bookings not marked as no-show by staff (実利用). Facility staff "
    "see only their facilities.",
)

MAX_DAYS = 3660  # ten years: the statement grows with days x rooms x slots
GROUPS = ("room", "slot", "weekday", "month", "fiscal_year")
MAX_ID = 2**31 - 1  # beyond an id column's range: a clear 422, not the database's overflow (a 500)


def _id_field(**metadata) -> fields.Integer:
    return fields.Integer(metadata=metadata, validate=validate.Range(
        min=1, max=MAX_ID, error=_l("IDは1以上の整数で指定してください。")))


class NotFound(DomainError):
    status_code = 404
    code = "not_found"


class UtilizationQuerySchema(Schema):
    facility_id = _id_field()
    room_id = _id_field(description="a parent room (分割利用) means its parts")
    from_ = fields.Date(data_key="from", required=True)
    to = fields.Date(required=True, metadata={"description": "exclusive; at most 3660 days after from"})
    group_by = fields.String(validate=validate.OneOf(GROUPS, error=_l(
        "group_by は room、slot、weekday、month、fiscal_year のどれかで指定してください。")),
        metadata={"description": "omit for one total row"})

    @validates_schema
    def _range(self, data, **kwargs):
        if data["to"] <= data["from_"] or (data["to"] - data["from_"]).days > MAX_DAYS:
            raise ValidationError(str(_l("期間は1日以上3660日以内で指定してください。")), "to")


class UtilizationRowSchema(Schema):
    group = fields.Raw(allow_none=True, metadata={
        "description": "the group's value: room id, 時間区分 code, weekday (0 = Monday), month 'YYYY-MM' or "
        "fiscal year (年度 by its starting year); null for the total"})
    bookable = fields.Integer()
    booked = fields.Integer()
    used = fields.Integer(metadata={"description": "booked units whose booking was not marked as a no-show"})
    rate = decimal_string(allow_none=True, metadata={"description": "percent, one decimal"})
    used_rate = decimal_string(allow_none=True)


class UtilizationSchema(Schema):
    from_ = fields.Date(data_key="from")
    to = fields.Date()
    facility_id = fields.Integer(allow_none=True)
    room_id = fields.Integer(allow_none=True)
    group_by = fields.String(allow_none=True)
    formula = fields.String()
    rows = fields.List(fields.Nested(UtilizationRowSchema))


def _group_value(key: str | None, row):
    if key is None:
        return None
    value = row.key[key]
    if key == "month":
        return f"{value // 100:04d}-{value % 100:02d}"
    return value


@blp.route("/utilization")
class Utilization(MethodView):
    """Utilization counts and rates for a period, optionally grouped."""

    @token_required(roles=(Role.FACILITY_STAFF, Role.WARD_STAFF))
    @blp.arguments(UtilizationQuerySchema, location="query")
    @blp.response(200, UtilizationSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, args):
        """利用率 of the facilities the caller may see (or one facility / room) in [from, to)."""
        visible = visible_facility_ids(current_api_user())
        facility_id, room_id = args.get("facility_id"), args.get("room_id")
        if room_id is not None:
            room = db.session.get(Room, room_id)
            if room is None or (facility_id is not None and room.facility_id != facility_id):
                raise NotFound(_l("部屋が見つかりません。"))
            facility_id = room.facility_id
        if facility_id is not None and visible is not None and facility_id not in visible:
            raise TokenForbidden(_l("この施設の集計を見る権限がありません。"))
        scope = [facility_id] if facility_id is not None else visible
        key = args.get("group_by")
        rows = compute_utilization(start=args["from_"], end=args["to"], facility_ids=scope,
                                   room_ids=[room_id] if room_id is not None else None,
                                   group_by=(key,) if key else ())
        return {
            "from_": args["from_"], "to": args["to"], "facility_id": facility_id, "room_id": room_id,
            "group_by": key, "formula": plain(str(FORMULAS["rate"])),
            "rows": [{"group": _group_value(key, r), "bookable": r.bookable, "booked": r.booked, "used": r.used,
                      "rate": r.rate, "used_rate": r.used_rate} for r in rows],
        }


class FigureSchema(Schema):
    value = decimal_string(allow_none=True, metadata={
        "description": "the figure so far (a rate in percent, or a count); null: unknown (no data), never 0"})
    through = fields.Date(allow_none=True, metadata={
        "description": "the last day counted while the fiscal year is not over (today); null for a whole year"})
    booked_ahead = decimal_string(allow_none=True, metadata={
        "description": "already booked for the days after `through` up to the year's end; not part of value"})


class FiguresSchema(Schema):
    fiscal_year = fields.Integer()
    center_rate = fields.Nested(FigureSchema, metadata={"description": "区民センター利用率 (%), indicator P09-04-1"})
    koryu_count = fields.Nested(FigureSchema, metadata={
        "description": "伝統文化交流館「交流の間」利用件数, indicator P09-04-2: bookings of the rooms its rule names"})
    definitions = fields.Dict(keys=fields.String(), values=fields.String())


def _figure(figure):
    return {"value": figure.value, "through": figure.through, "booked_ahead": figure.ahead}


@blp.route("/utilization/fiscal-years/<int(min=2000, max=2100):year>")
class UtilizationYear(MethodView):
    """The plan's two booking figures of a fiscal year, as the dashboard, the indicator pages and the exports
    show them (one function each: app.utilization.figures)."""

    @token_required(roles=(Role.FACILITY_STAFF, Role.WARD_STAFF))
    @blp.response(200, FiguresSchema)
    @blp.alt_response(404, response="NOT_FOUND")  # a year outside 2000-2100 matches no route
    def get(self, year):
        """区民センター利用率 and 「交流の間」利用件数 of a fiscal year (facility staff: their facilities)"""
        visible = visible_facility_ids(current_api_user())
        return {
            "fiscal_year": year,
            "center_rate": _figure(figures.center_rate(year, visible=visible)),
            "koryu_count": _figure(figures.koryu_count(year, visible=visible)),
            "definitions": {key: plain(str(text)) for key, text in figures.DEFINITIONS.items()},
        }
