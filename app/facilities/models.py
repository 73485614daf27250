"""Facilities, rooms (with parent/child rooms for 分割利用), 時間区分 templates, closures, fees and 減免, staff."""

from __future__ import annotations

import enum
from datetime import date, datetime, time

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.districts import District, district_column_type
from app.core.i18n import current_language
from app.core.time import utcnow
from app.extensions import db
from app.organizations.models import OrganizationKind


def _enum(cls):
    return sa.Enum(cls, native_enum=False, length=32, values_callable=lambda e: [m.value for m in e])


def localized(obj, field: str) -> str:
    """OBJ's FIELD in the current language (`name_en`, `name_easy`), falling back to Japanese."""
    code = current_language().code
    suffix = {"en": "en", "ja-easy": "easy"}.get(code)
    value = getattr(obj, f"{field}_{suffix}", None) if suffix else None
    return value or getattr(obj, f"{field}_ja") or ""


class FacilityKind(enum.StrEnum):
    """Kinds of facility in the plan."""

    COMMUNITY_CENTER = "community_center"  # 区民センター
    COLLABORATION_SPACE = "collaboration_space"  # 区民協働スペース
    TRADITIONAL_CULTURE = "traditional_culture"  # 伝統文化交流館
    OTHER = "other"  # その他

    @property
    def label(self):
        return FACILITY_KIND_LABELS[self]


FACILITY_KIND_LABELS = {
    FacilityKind.COMMUNITY_CENTER: _l("区民センター"),
    FacilityKind.COLLABORATION_SPACE: _l("区民協働スペース"),
    FacilityKind.TRADITIONAL_CULTURE: _l("伝統文化交流館"),
    FacilityKind.OTHER: _l("その他"),
}


class RoomKind(enum.StrEnum):
    """Kinds of room."""

    MEETING = "meeting"  # 会議室
    JAPANESE = "japanese"  # 和室
    HALL = "hall"  # ホール
    MUSIC = "music"  # 音楽室
    COOKING = "cooking"  # 調理室
    MULTIPURPOSE = "multipurpose"  # 多目的室
    OTHER = "other"

    @property
    def label(self):
        return ROOM_KIND_LABELS[self]


ROOM_KIND_LABELS = {
    RoomKind.MEETING: _l("会議室"),
    RoomKind.JAPANESE: _l("和室"),
    RoomKind.HALL: _l("ホール"),
    RoomKind.MUSIC: _l("音楽室"),
    RoomKind.COOKING: _l("調理室"),
    RoomKind.MULTIPURPOSE: _l("多目的室"),
    RoomKind.OTHER: _l("その他"),
}


class ClosureKind(enum.StrEnum):
    """Why a facility or room cannot be booked."""

    REGULAR = "regular"  # 休館日 (maintenance day, 年末年始)
    TEMPORARY = "temporary"  # 臨時休館
    ADMINISTRATIVE = "administrative"  # 行政使用

    @property
    def label(self):
        return CLOSURE_KIND_LABELS[self]


CLOSURE_KIND_LABELS = {
    ClosureKind.REGULAR: _l("休館日"),
    ClosureKind.TEMPORARY: _l("臨時休館"),
    ClosureKind.ADMINISTRATIVE: _l("行政使用"),
}


class UserCategory(enum.StrEnum):
    """Fee category of the person or group booking."""

    RESIDENT = "resident"  # 区内 (lives, works or studies in the ward; groups registered in the ward)
    OUTSIDE = "outside"  # 区外
    COMMERCIAL = "commercial"  # 営利目的

    @property
    def label(self):
        return USER_CATEGORY_LABELS[self]


USER_CATEGORY_LABELS = {
    UserCategory.RESIDENT: _l("区内(在住・在勤・在学)"),
    UserCategory.OUTSIDE: _l("区外"),
    UserCategory.COMMERCIAL: _l("営利目的"),
}

HOLIDAY_WEEKDAY = 7  # a TimeSlot with this weekday applies on national holidays (祝日)


class Facility(db.Model):
    """A facility (区民センター ...). Texts per language: Japanese required, the others fall back to it.

    The booking rules live on the facility as plain numbers (configuration, not code).
    """

    __tablename__ = "facilities"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[FacilityKind] = mapped_column(_enum(FacilityKind), index=True)
    district: Mapped[District] = mapped_column(district_column_type(), index=True)
    name_ja: Mapped[str] = mapped_column(sa.String(200))
    name_en: Mapped[str | None] = mapped_column(sa.String(200))
    name_easy: Mapped[str | None] = mapped_column(sa.String(200))
    # The name's reading in katakana (名称_カナ of the open data), as staff typed it; None: generated when needed.
    name_kana: Mapped[str | None] = mapped_column(sa.String(200))
    address_ja: Mapped[str] = mapped_column(sa.String(300))
    address_en: Mapped[str | None] = mapped_column(sa.String(300))
    address_easy: Mapped[str | None] = mapped_column(sa.String(300))
    notes_ja: Mapped[str | None] = mapped_column(sa.Text)
    notes_en: Mapped[str | None] = mapped_column(sa.Text)
    notes_easy: Mapped[str | None] = mapped_column(sa.Text)
    opening_hours_ja: Mapped[str | None] = mapped_column(sa.String(300))
    opening_hours_en: Mapped[str | None] = mapped_column(sa.String(300))
    opening_hours_easy: Mapped[str | None] = mapped_column(sa.String(300))
    latitude: Mapped[float | None] = mapped_column(sa.Float)
    longitude: Mapped[float | None] = mapped_column(sa.Float)
    poi_code: Mapped[str | None] = mapped_column(sa.String(32))  # POIコード of the open-data 公共施設一覧
    phone: Mapped[str | None] = mapped_column(sa.String(32))
    # Barrier-free information (None = unknown, never a guess).
    has_elevator: Mapped[bool | None]
    has_accessible_toilet: Mapped[bool | None]
    has_step_free_entrance: Mapped[bool | None]
    has_hearing_loop: Mapped[bool | None]
    has_nursing_room: Mapped[bool | None]
    has_parking: Mapped[bool | None]
    # Booking rules (configuration).
    closed_on_holidays: Mapped[bool] = mapped_column(default=False)
    window_days_resident: Mapped[int] = mapped_column(default=90)  # how far ahead 区内 users may book
    window_days_other: Mapped[int] = mapped_column(default=60)  # 区外 and 営利
    min_lead_days: Mapped[int] = mapped_column(default=0)  # 0 = same day allowed
    max_active_per_month: Mapped[int] = mapped_column(default=8)  # active bookings per person per month
    cancel_deadline_days: Mapped[int] = mapped_column(default=7)  # later cancellations are "late"
    late_cancel_ban_days: Mapped[int] = mapped_column(default=30)  # 0 = no ban
    no_show_ban_days: Mapped[int] = mapped_column(default=60)  # 0 = no ban
    tentative_hold_days: Mapped[int] = mapped_column(default=7)  # 仮予約 payment deadline
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    rooms: Mapped[list[Room]] = relationship(back_populates="facility", order_by="Room.sort_order, Room.id")

    @property
    def name(self) -> str:
        return localized(self, "name")

    @property
    def address(self) -> str:
        return localized(self, "address")

    @property
    def notes(self) -> str:
        return localized(self, "notes")

    @property
    def opening_hours(self) -> str:
        return localized(self, "opening_hours")


class Room(db.Model):
    """A bookable room. A room with children (分割利用) is booked whole by claiming every leaf below it."""

    __tablename__ = "rooms"

    id: Mapped[int] = mapped_column(primary_key=True)
    facility_id: Mapped[int] = mapped_column(sa.ForeignKey("facilities.id", ondelete="CASCADE"), index=True)
    parent_id: Mapped[int | None] = mapped_column(sa.ForeignKey("rooms.id", ondelete="CASCADE"), index=True)
    kind: Mapped[RoomKind] = mapped_column(_enum(RoomKind))
    name_ja: Mapped[str] = mapped_column(sa.String(200))
    name_en: Mapped[str | None] = mapped_column(sa.String(200))
    name_easy: Mapped[str | None] = mapped_column(sa.String(200))
    capacity: Mapped[int]
    area_m2: Mapped[float | None] = mapped_column(sa.Float)
    hourly: Mapped[bool] = mapped_column(default=False)  # let by the hour inside the 時間区分 instead of whole slots
    requires_approval: Mapped[bool] = mapped_column(default=False)  # requested -> staff approve / reject
    verified_groups_only: Mapped[bool] = mapped_column(default=False)
    sort_order: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True)

    facility: Mapped[Facility] = relationship(back_populates="rooms")

    @property
    def name(self) -> str:
        return localized(self, "name")


class TimeSlot(db.Model):
    """One 時間区分 of a facility's template.

    Which rows apply on a day: rows with `on_date` equal to the day (a date override) if any; else, on a
    national holiday, rows with weekday 7 if any; else rows with the day's weekday (0 = Monday) if any;
    else the default rows (no weekday, no date). Times are Tokyo wall-clock, multiples of 30 minutes.
    """

    __tablename__ = "time_slots"

    id: Mapped[int] = mapped_column(primary_key=True)
    facility_id: Mapped[int] = mapped_column(sa.ForeignKey("facilities.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(sa.String(32))  # e.g. "morning"; fees refer to it
    label_ja: Mapped[str] = mapped_column(sa.String(60))
    label_en: Mapped[str | None] = mapped_column(sa.String(60))
    label_easy: Mapped[str | None] = mapped_column(sa.String(60))
    weekday: Mapped[int | None] = mapped_column(sa.SmallInteger)
    on_date: Mapped[date | None]
    start_time: Mapped[time] = mapped_column(sa.Time)
    end_time: Mapped[time] = mapped_column(sa.Time)

    __table_args__ = (
        sa.CheckConstraint("start_time < end_time", name="ordered"),
        sa.CheckConstraint("weekday IS NULL OR (weekday >= 0 AND weekday <= 7)", name="weekday_range"),
    )

    @property
    def label(self) -> str:
        return localized(self, "label")


class Closure(db.Model):
    """A closure of a whole facility (room_id NULL) or of one room, for the half-open day range [start, end)."""

    __tablename__ = "closures"

    id: Mapped[int] = mapped_column(primary_key=True)
    facility_id: Mapped[int] = mapped_column(sa.ForeignKey("facilities.id", ondelete="CASCADE"), index=True)
    room_id: Mapped[int | None] = mapped_column(sa.ForeignKey("rooms.id", ondelete="CASCADE"), index=True)
    kind: Mapped[ClosureKind] = mapped_column(_enum(ClosureKind))
    start_date: Mapped[date] = mapped_column(index=True)
    end_date: Mapped[date]  # exclusive
    reason_ja: Mapped[str] = mapped_column(sa.String(300))
    reason_en: Mapped[str | None] = mapped_column(sa.String(300))
    reason_easy: Mapped[str | None] = mapped_column(sa.String(300))

    __table_args__ = (sa.CheckConstraint("start_date < end_date", name="ordered"),)

    @property
    def reason(self) -> str:
        return localized(self, "reason")


class FeeRate(db.Model):
    """使用料 in yen for one room x slot code x user category ("hour" is the code of hourly rooms)."""

    __tablename__ = "fee_rates"

    id: Mapped[int] = mapped_column(primary_key=True)
    room_id: Mapped[int] = mapped_column(sa.ForeignKey("rooms.id", ondelete="CASCADE"), index=True)
    slot_code: Mapped[str] = mapped_column(sa.String(32))
    category: Mapped[UserCategory] = mapped_column(_enum(UserCategory))
    amount_yen: Mapped[int]

    __table_args__ = (sa.UniqueConstraint("room_id", "slot_code", "category"),)


class FeeReduction(db.Model):
    """減免: a percentage off the fee for bookings by a kind of organization (100 = exempt)."""

    __tablename__ = "fee_reductions"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_kind: Mapped[OrganizationKind] = mapped_column(_enum(OrganizationKind), unique=True)
    percent: Mapped[int]
    requires_verified: Mapped[bool] = mapped_column(default=True)  # only groups verified by staff

    __table_args__ = (sa.CheckConstraint("percent >= 0 AND percent <= 100", name="percent_range"),)


class FacilityStaff(db.Model):
    """A staff member assigned to a facility: global role facility_staff, scoped by these rows."""

    __tablename__ = "facility_staff"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    facility_id: Mapped[int] = mapped_column(sa.ForeignKey("facilities.id", ondelete="CASCADE"), index=True)

    __table_args__ = (sa.UniqueConstraint("user_id", "facility_id"),)


class ExemptDay(db.Model):
    """A day on which late cancellations and no-shows bar nobody (weather, heat alert); facility NULL = ward-wide."""

    __tablename__ = "booking_exempt_days"

    id: Mapped[int] = mapped_column(primary_key=True)
    facility_id: Mapped[int | None] = mapped_column(sa.ForeignKey("facilities.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(index=True)
    reason_ja: Mapped[str] = mapped_column(sa.String(300))
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))

    __table_args__ = (sa.UniqueConstraint("facility_id", "day"),)


class EquipmentKind(enum.StrEnum):
    """What a 付帯設備 is, so that rooms can be searched by it whatever each facility calls it."""

    PROJECTOR = "projector"
    SCREEN = "screen"
    MICROPHONE = "microphone"
    SOUND = "sound"
    PIANO = "piano"
    WHITEBOARD = "whiteboard"
    MONITOR = "monitor"
    KITCHEN = "kitchen"
    OTHER = "other"

    @property
    def label(self):
        return EQUIPMENT_KIND_LABELS[self]


EQUIPMENT_KIND_LABELS = {
    EquipmentKind.PROJECTOR: _l("プロジェクター"),
    EquipmentKind.SCREEN: _l("スクリーン"),
    EquipmentKind.MICROPHONE: _l("マイク"),
    EquipmentKind.SOUND: _l("音響設備"),
    EquipmentKind.PIANO: _l("ピアノ"),
    EquipmentKind.WHITEBOARD: _l("ホワイトボード"),
    EquipmentKind.MONITOR: _l("テレビ・モニター"),
    EquipmentKind.KITCHEN: _l("調理設備"),
    EquipmentKind.OTHER: _l("その他"),
}


class Equipment(db.Model):
    """付帯設備 of a facility (projector, microphone, piano ...) with its own fee per booking.

    ROOM_ID set: the item belongs to (or is only usable in) that room; unset: any room of the facility may use it.
    """

    __tablename__ = "equipment"

    id: Mapped[int] = mapped_column(primary_key=True)
    facility_id: Mapped[int] = mapped_column(sa.ForeignKey("facilities.id", ondelete="CASCADE"), index=True)
    room_id: Mapped[int | None] = mapped_column(sa.ForeignKey("rooms.id", ondelete="CASCADE"), index=True)
    kind: Mapped[EquipmentKind] = mapped_column(_enum(EquipmentKind), default=EquipmentKind.OTHER,
                                                server_default=EquipmentKind.OTHER.value)
    name_ja: Mapped[str] = mapped_column(sa.String(100))
    name_en: Mapped[str | None] = mapped_column(sa.String(100))
    name_easy: Mapped[str | None] = mapped_column(sa.String(100))
    fee_yen: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True)

    __table_args__ = (sa.CheckConstraint("fee_yen >= 0", name="fee_not_negative"),)

    @property
    def name(self) -> str:
        return localized(self, "name")


class FacilityPhoto(db.Model):
    """A photo of a facility (room_id NULL) or of one room: re-encoded JPEG under instance/uploads/facilities,
    with alt text per language (Japanese required)."""

    __tablename__ = "facility_photos"

    id: Mapped[int] = mapped_column(primary_key=True)
    facility_id: Mapped[int] = mapped_column(sa.ForeignKey("facilities.id", ondelete="CASCADE"), index=True)
    room_id: Mapped[int | None] = mapped_column(sa.ForeignKey("rooms.id", ondelete="CASCADE"), index=True)
    file_name: Mapped[str] = mapped_column(sa.String(80), unique=True)
    alt_ja: Mapped[str] = mapped_column(sa.String(200))
    alt_en: Mapped[str | None] = mapped_column(sa.String(200))
    alt_easy: Mapped[str | None] = mapped_column(sa.String(200))
    sort_order: Mapped[int] = mapped_column(default=0)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def alt(self) -> str:
        return localized(self, "alt")
