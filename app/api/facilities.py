"""/api/v1/facilities, /api/v1/rooms/{id}/availability (public) and /api/v1/bookings (own bookings, token)."""

from __future__ import annotations

import sqlalchemy as sa
from flask import abort, jsonify
from flask.views import MethodView
from flask_babel import lazy_gettext as _l
from flask_smorest import Blueprint
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from app.api.errors import ErrorSchema
from app.api.schemas import BAD_BODY, NUL_422
from app.api.security import current_api_user, token_required
from app.bookings import access
from app.bookings import services as booking_services
from app.bookings.availability import facility_grid, room_units
from app.bookings.models import Booking, BookingState
from app.core.converters import ID_MAX
from app.core.errors import json_error
from app.core.i18n import plain
from app.core.transactions import VIEW, request_transaction
from app.extensions import db
from app.facilities import queries
from app.facilities.availability import Status
from app.facilities.models import Facility, Room, TimeSlot, UserCategory

blp = Blueprint(
    "api_facilities",
    __name__,
    description="Facilities, rooms, 時間区分 and availability (public, never who booked); the caller's bookings. "
    "Times are minutes after midnight, Tokyo wall-clock. Unit keys name what to book: 's<slot id>' for a whole "
    "時間区分, 's<slot id>h<start minute>' for one hour of an hourly room.",
)

MAX_AVAILABILITY_DAYS = 62


class SlotSchema(Schema):
    """A 時間区分 row: default (weekday and on_date null), per weekday (0 = Monday, 7 = holidays) or one date."""

    id = fields.Integer()
    code = fields.String()
    label = fields.String()
    start = fields.Integer()
    end = fields.Integer()
    weekday = fields.Integer(allow_none=True)
    on_date = fields.Date(allow_none=True)


class RoomSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    kind = fields.String()
    capacity = fields.Integer()
    area_m2 = fields.Float(allow_none=True)
    parent_id = fields.Integer(allow_none=True, metadata={"description": "the whole room this part belongs to"})
    hourly = fields.Boolean()
    requires_approval = fields.Boolean()


class FacilitySchema(Schema):
    id = fields.Integer()
    name = fields.String()
    name_kana = fields.String(allow_none=True, metadata={
        "description": "the name's reading in katakana as the ward stored it; null when not recorded"})
    kind = fields.String()
    district = fields.String()
    address = fields.String()
    latitude = fields.Float(allow_none=True)
    longitude = fields.Float(allow_none=True)
    poi_code = fields.String(allow_none=True)
    rooms = fields.List(fields.Nested(RoomSchema))
    slots = fields.List(fields.Nested(SlotSchema))


class AvailabilityQuerySchema(Schema):
    from_ = fields.Date(data_key="from", required=True)
    to = fields.Date(required=True, metadata={"description": "exclusive; at most 62 days after from"})

    @validates_schema
    def _range(self, data, **kwargs):
        if data["to"] <= data["from_"] or (data["to"] - data["from_"]).days > MAX_AVAILABILITY_DAYS:
            raise ValidationError(str(_l("期間は1日以上62日以内で指定してください。")), "to")


class UnitSchema(Schema):
    key = fields.String()
    start = fields.Integer()
    end = fields.Integer()
    free = fields.Boolean()


class CellSchema(Schema):
    slot_id = fields.Integer()
    label = fields.String()
    start = fields.Integer()
    end = fields.Integer()
    status = fields.String(metadata={"description": "free, few, taken, closed or lottery"})
    units = fields.List(fields.Nested(UnitSchema))


class DaySchema(Schema):
    date = fields.Date()
    holiday = fields.Boolean()
    slots = fields.List(fields.Nested(CellSchema))


ID_RANGE = validate.Range(min=1, max=ID_MAX)  # beyond the id column: a 422, never the database's overflow (500)


class BookingInSchema(Schema):
    room_id = fields.Integer(required=True, strict=True, validate=ID_RANGE)
    day = fields.Date(required=True)
    units = fields.List(fields.String(validate=validate.Length(max=40)), required=True,
                        validate=validate.Length(min=1, max=24))
    purpose = fields.String(required=True, validate=validate.Length(min=1, max=200))
    attendees = fields.Integer(required=True, validate=validate.Range(min=1, max=10000))
    category = fields.Enum(UserCategory, by_value=True, load_default=UserCategory.RESIDENT)
    organization_id = fields.Integer(allow_none=True, load_default=None, strict=True, validate=ID_RANGE)
    equipment = fields.List(fields.Integer(strict=True, validate=ID_RANGE), load_default=list,
                            validate=validate.Length(max=50), metadata={"description": "付帯設備 ids"})


class BookingItemSchema(Schema):
    label = fields.String(attribute="label_ja")
    start = fields.Integer(attribute="start_minute")
    end = fields.Integer(attribute="end_minute")
    fee_yen = fields.Integer()


class BookingSchema(Schema):
    id = fields.Integer()
    facility_id = fields.Integer()
    room_id = fields.Integer()
    organization_id = fields.Integer(allow_none=True)
    day = fields.Date()
    state = fields.Enum(BookingState, by_value=True)
    category = fields.Enum(UserCategory, by_value=True)
    purpose = fields.String()
    attendees = fields.Integer()
    fee_gross_yen = fields.Integer()
    fee_reduction_yen = fields.Integer()
    fee_net_yen = fields.Integer()
    hold_until = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()
    cancelled_at = fields.DateTime(allow_none=True)
    late_cancellation = fields.Boolean()
    items = fields.List(fields.Nested(BookingItemSchema))


_BOOKING_SCHEMA = BookingSchema()  # dump only, which keeps no state between calls


def _slot_doc(slot) -> dict:
    return {"id": slot.id, "code": slot.code, "label": slot.label, "start": slot.start, "end": slot.end,
            "weekday": slot.weekday, "on_date": slot.on_date}


@blp.route("/facilities")
class FacilityList(MethodView):
    @blp.response(200, FacilitySchema(many=True))
    def get(self):
        """Active facilities with their rooms and 時間区分"""
        facilities = queries.list_facilities()
        ids = [f.id for f in facilities]
        rooms: dict[int, list[Room]] = {}
        for room in db.session.scalars(sa.select(Room).where(Room.facility_id.in_(ids), Room.active.is_(True))
                                       .order_by(Room.sort_order, Room.id)):
            rooms.setdefault(room.facility_id, []).append(room)

        slots: dict[int, list] = {}
        for slot in db.session.scalars(sa.select(TimeSlot).where(TimeSlot.facility_id.in_(ids))
                                       .order_by(TimeSlot.start_time)):
            slots.setdefault(slot.facility_id, []).append(queries.slot_def(slot))
        return [{
            "id": f.id, "name": f.name, "name_kana": f.name_kana, "kind": f.kind.value, "district": f.district.value,
            "address": f.address,
            "latitude": f.latitude, "longitude": f.longitude, "poi_code": f.poi_code,
            "rooms": [{"id": r.id, "name": r.name, "kind": r.kind.value, "capacity": r.capacity,
                       "area_m2": r.area_m2, "parent_id": r.parent_id, "hourly": r.hourly,
                       "requires_approval": r.requires_approval} for r in rooms.get(f.id, [])],
            "slots": [_slot_doc(s) for s in slots.get(f.id, [])],
        } for f in facilities]


@blp.route("/rooms/<int:room_id>/availability")
class RoomAvailability(MethodView):
    @blp.arguments(AvailabilityQuerySchema, location="query")
    @blp.response(200, DaySchema(many=True))
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(422, schema=ErrorSchema, description=(
        "`validation_failed`: `from` or `to` missing or not a date, or `to` not after `from` or more than 62 days "
        "after it (the message is under `fields.to`)"))
    def get(self, args, room_id):
        """The room's 時間区分 per day with status and bookable units (never who booked)"""
        room = db.session.get(Room, room_id)
        if room is None or not room.active:
            abort(404)
        facility = db.session.get(Facility, room.facility_id)
        data = facility_grid(facility, args["from_"], args["to"])
        days = []
        for day in data.grid.days:
            units = room_units(data, room, day)
            cells = []
            for cell in data.grid.row(room.id, day):
                open_ = cell.status not in (Status.CLOSED, Status.LOTTERY)
                cells.append({
                    "slot_id": cell.slot.id, "label": cell.slot.label, "start": cell.slot.start, "end": cell.slot.end,
                    "status": cell.status.value,
                    "units": [vars(u) for u in units.get(cell.slot.id, [])] if open_ else [],
                })
            days.append({"date": day, "holiday": day in data.holidays, "slots": cells})
        return days


@blp.route("/bookings")
class BookingList(MethodView):
    @token_required
    @blp.response(200, BookingSchema(many=True))
    def get(self):
        """The caller's bookings and those of the groups the caller is an officer of, newest day first"""
        user = current_api_user()
        return list(db.session.scalars(sa.select(Booking).where(access.visible(Booking, user.id))
                                       .order_by(Booking.day.desc(), Booking.id.desc())
                                       .options(sa.orm.selectinload(Booking.items))))

    @token_required
    @blp.alt_response(400, schema=ErrorSchema, description=BAD_BODY)
    @blp.arguments(BookingInSchema)
    @blp.response(201, BookingSchema)
    @blp.alt_response(409, schema=ErrorSchema, description="Slot taken; error.alternatives lists free rooms")
    @blp.alt_response(403, response="FORBIDDEN")
    @blp.alt_response(404, schema=ErrorSchema, description="`room_not_found`: no such room, or not in use")
    @blp.alt_response(422, schema=ErrorSchema, description=(
        "Invalid input (`validation_failed`, messages per field in `fields`), or a booking rule broken, by its "
        "code: `past_date`, `outside_window` (beyond the booking window), `closed` (a closure or a lottery), "
        "`unknown_slot`, `over_capacity`, `fee_not_set`, `too_many_bookings` (the monthly limit), "
        f"`booking_invalid`; or {NUL_422}"))
    def post(self, data):
        """Book units of a room (the same rules as the booking form; the database arbitrates races)"""
        user = current_api_user()
        with request_transaction(errors={booking_services.SlotTaken: VIEW}) as tx:
            booking = booking_services.book_slots(
                user=user, room_id=data["room_id"], day=data["day"], unit_keys=data["units"],
                purpose=data["purpose"], attendees=data["attendees"], category=data["category"],
                organization_id=data["organization_id"], equipment_ids=data["equipment"],
            )
            # Dumped before the commit, which expires the booking: dumped after, it would be read back (booking
            # and items, 2 SELECTs) only to give the same values. The response is already JSON, so the decorator
            # passes it.
            body = _BOOKING_SCHEMA.dump(booking)
        if tx.failed:
            alternatives = [{"room_id": a.room.id, "facility_id": a.room.facility_id, "room": a.room.name,
                             "units": a.unit_keys} for a in tx.error.alternatives]
            return json_error(409, plain(str(tx.error.message)), tx.error.code, alternatives=alternatives)
        return jsonify(body), 201


@blp.route("/bookings/<int:booking_id>/cancel")
class BookingCancel(MethodView):
    @token_required
    @blp.response(200, BookingSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(422, schema=ErrorSchema, description="`not_cancellable`: already cancelled or ended, or "
                      "its day has passed")
    def post(self, booking_id):
        """Cancel one of the caller's bookings or of their group's (free within the undo window; late cancellation
        may bar)"""
        user = current_api_user()
        booking = db.session.get(Booking, booking_id)
        if booking is None or not access.is_booking_side(user, booking):
            abort(404)
        with request_transaction():
            booking_services.cancel_booking(booking, actor=user)
        return booking

