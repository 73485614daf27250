"""Event series, their occurrences, audiences, co-organizers and registrations."""

from __future__ import annotations

import enum
import unicodedata
from datetime import datetime, time

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.districts import District, district_column_type
from app.core.time import utcnow
from app.extensions import db


def _enum(cls):
    return sa.Enum(cls, native_enum=False, length=32, values_callable=lambda e: [m.value for m in e])


class _Labelled(enum.StrEnum):
    @property
    def label(self):
        return LABELS[(type(self), self.value)]


class EventCategory(_Labelled):
    """Categories following the plan's policies 9 to 14."""

    COMMUNITY = "community"  # 地域活動・交流
    SAFETY = "safety"  # 防災・防犯・環境美化・交通安全
    PARTICIPATION = "participation"  # 区民参画会議
    KNOW_THE_AREA = "know_the_area"  # 地域を知る事業
    INTERNATIONAL = "international"  # 国際交流・多文化共生
    JAPANESE_LEARNING = "japanese_learning"  # 日本語学習
    CULTURE_ARTS = "culture_arts"  # 文化・芸術
    SHOPPING_STREET = "shopping_street"  # 商店街イベント
    TOURISM = "tourism"  # 観光・まち歩き
    SOCIAL_BUSINESS = "social_business"  # ソーシャルビジネス・産業
    UNIVERSITY = "university"  # 大学連携
    CHILDREN = "children"  # 子ども・子育て
    SPORTS_HEALTH = "sports_health"  # スポーツ・健康
    OTHER = "other"  # その他


class Audience(_Labelled):
    """Who an event is meant for (several per event)."""

    CHILDREN = "children"
    PARENTS = "parents"
    YOUTH = "youth"
    SENIORS = "seniors"
    FOREIGN_RESIDENTS = "foreign_residents"
    FIRST_TIMERS = "first_timers"


class Frequency(_Labelled):
    """How a series repeats (see app.events.recurrence)."""

    ONCE = "once"
    WEEKLY = "weekly"
    BIWEEKLY = "biweekly"
    MONTHLY_NTH_WEEKDAY = "monthly_nth_weekday"
    DATES = "dates"


class EventStatus(_Labelled):
    """Workflow of a series: draft -> submitted (staff review) -> published; cancelled at any time after."""

    DRAFT = "draft"
    SUBMITTED = "submitted"
    PUBLISHED = "published"
    CANCELLED = "cancelled"


class OccurrenceStatus(_Labelled):
    SCHEDULED = "scheduled"
    CANCELLED = "cancelled"


class WardRelation(_Labelled):
    """How the ward stands to an event, as ward staff mark it (never the organizer): the plan's 地域と連携・協働、
    支援しているイベント (indicator P09-05-1) counts the marked events."""

    COLLABORATION = "collaboration"  # 区と連携・協働
    SUPPORT = "support"  # 区が支援


class RegistrationStatus(_Labelled):
    CONFIRMED = "confirmed"
    WAITLISTED = "waitlisted"
    CANCELLED = "cancelled"


# (member, label) pairs, keyed below by (enum class, value): the enums are str subclasses, so
# EventCategory.CHILDREN == Audience.CHILDREN and EventStatus.CANCELLED == RegistrationStatus.CANCELLED
# would share one dict key and one label.
_LABEL_PAIRS = (
    (EventCategory.COMMUNITY, _l("地域活動・交流")),
    (EventCategory.SAFETY, _l("防災・防犯・環境美化・交通安全")),
    (EventCategory.PARTICIPATION, _l("区民参画会議")),
    (EventCategory.KNOW_THE_AREA, _l("地域を知る事業")),
    (EventCategory.INTERNATIONAL, _l("国際交流・多文化共生")),
    (EventCategory.JAPANESE_LEARNING, _l("日本語学習")),
    (EventCategory.CULTURE_ARTS, _l("文化・芸術")),
    (EventCategory.SHOPPING_STREET, _l("商店街イベント")),
    (EventCategory.TOURISM, _l("観光・まち歩き")),
    (EventCategory.SOCIAL_BUSINESS, _l("ソーシャルビジネス・産業")),
    (EventCategory.UNIVERSITY, _l("大学連携")),
    (EventCategory.CHILDREN, _l("子ども・子育て")),
    (EventCategory.SPORTS_HEALTH, _l("スポーツ・健康")),
    (EventCategory.OTHER, _l("その他")),
    (Audience.CHILDREN, _l("子ども")),
    (Audience.PARENTS, _l("子育て世代")),
    (Audience.YOUTH, _l("若者")),
    (Audience.SENIORS, _l("高齢者")),
    (Audience.FOREIGN_RESIDENTS, _l("外国人")),
    (Audience.FIRST_TIMERS, _l("初めての方歓迎")),
    (Frequency.ONCE, _l("1回のみ")),
    (Frequency.WEEKLY, _l("毎週")),
    (Frequency.BIWEEKLY, _l("隔週(2週間ごと)")),
    (Frequency.MONTHLY_NTH_WEEKDAY, _l("毎月第n曜日")),
    (Frequency.DATES, _l("日付を指定")),
    (EventStatus.DRAFT, _l("下書き")),
    (EventStatus.SUBMITTED, _l("承認待ち")),
    (EventStatus.PUBLISHED, _l("公開中")),
    (EventStatus.CANCELLED, _l("中止")),
    (OccurrenceStatus.SCHEDULED, _l("開催予定")),
    (OccurrenceStatus.CANCELLED, _l("中止")),
    (WardRelation.COLLABORATION, _l("区と連携・協働")),
    (WardRelation.SUPPORT, _l("区が支援")),
    (RegistrationStatus.CONFIRMED, _l("申込済み")),
    (RegistrationStatus.WAITLISTED, _l("キャンセル待ち")),
    (RegistrationStatus.CANCELLED, _l("取消済み")),
)
LABELS = {(type(member), member.value): label for member, label in _LABEL_PAIRS}

# Foreign languages an event may offer (外国語対応), as codes stored comma-separated.
FOREIGN_LANGUAGES = {
    "en": _l("英語"),
    "zh": _l("中国語"),
    "ko": _l("韓国語"),
    "es": _l("スペイン語"),
    "fr": _l("フランス語"),
    "other": _l("その他の言語"),
}


def search_key(text: str | None) -> str:
    """TEXT in the form keyword search compares: NFKC (full-width Latin and digits, half-width kana made one form)
    then case-folded, so ＢＯＮ, bon and Bon match. Stored in EventSeries.search_text and applied to the query."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text or "").casefold())


class EventSeries(db.Model):
    """An event as organizers write it: texts per language, where, who for, and how it repeats."""

    __tablename__ = "event_series"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(sa.ForeignKey("organizations.id", ondelete="RESTRICT"), index=True)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    title_ja: Mapped[str] = mapped_column(sa.String(200))
    title_en: Mapped[str | None] = mapped_column(sa.String(200))
    title_easy: Mapped[str | None] = mapped_column(sa.String(200))
    # The title's reading in full-width katakana as the organizer gave it (open data 名称_カナ); None: generated.
    title_kana: Mapped[str | None] = mapped_column(sa.String(200))
    summary_ja: Mapped[str | None] = mapped_column(sa.String(500))
    summary_en: Mapped[str | None] = mapped_column(sa.String(500))
    summary_easy: Mapped[str | None] = mapped_column(sa.String(500))
    description_ja: Mapped[str | None] = mapped_column(sa.Text)
    description_en: Mapped[str | None] = mapped_column(sa.Text)
    description_easy: Mapped[str | None] = mapped_column(sa.Text)
    # Every language's texts through search_key (NFKC, case-folded), so one LIKE searches them all.
    search_text: Mapped[str] = mapped_column(sa.Text, default="")
    category: Mapped[EventCategory] = mapped_column(_enum(EventCategory), index=True)
    district: Mapped[District] = mapped_column(district_column_type(), index=True)
    venue_name: Mapped[str | None] = mapped_column(sa.String(200))
    venue_address: Mapped[str | None] = mapped_column(sa.String(300))
    # A room booking as the venue (app.events.venue); cleared when the booking is cancelled, expires or goes.
    room_booking_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("bookings.id", ondelete="SET NULL"), index=True
    )
    online_url: Mapped[str | None] = mapped_column(sa.String(500))
    image_name: Mapped[str | None] = mapped_column(sa.String(80))  # re-encoded JPEG in instance/uploads/events
    fee_yen: Mapped[int] = mapped_column(default=0)
    fee_note: Mapped[str | None] = mapped_column(sa.String(200))
    registration_required: Mapped[bool] = mapped_column(default=True)
    registration_opens_at: Mapped[datetime | None]
    registration_deadline_days: Mapped[int | None]  # days before each start; None = until it starts
    wheelchair_accessible: Mapped[bool] = mapped_column(default=False)
    sign_language: Mapped[bool] = mapped_column(default=False)
    captions: Mapped[bool] = mapped_column(default=False)  # 要約筆記・字幕
    childcare: Mapped[bool] = mapped_column(default=False)
    no_smoking: Mapped[bool] = mapped_column(default=False)
    foreign_languages: Mapped[str] = mapped_column(sa.String(100), default="")  # "en,zh"
    contact_name: Mapped[str | None] = mapped_column(sa.String(100))
    contact_email: Mapped[str | None] = mapped_column(sa.String(320))
    contact_phone: Mapped[str | None] = mapped_column(sa.String(40))
    frequency: Mapped[Frequency] = mapped_column(_enum(Frequency), default=Frequency.ONCE)
    recurrence: Mapped[dict] = mapped_column(sa.JSON, default=dict)  # the rule as entered (see recurrence.py)
    start_time: Mapped[time] = mapped_column(sa.Time)
    end_time: Mapped[time] = mapped_column(sa.Time)
    status: Mapped[EventStatus] = mapped_column(_enum(EventStatus), default=EventStatus.DRAFT, index=True)
    review_comment: Mapped[str | None] = mapped_column(sa.Text)
    submitted_at: Mapped[datetime | None]
    published_at: Mapped[datetime | None]  # when it was released (directly or by staff approval)
    publish_at: Mapped[datetime | None]  # scheduled: public from this instant on (None: at once)
    cancelled_at: Mapped[datetime | None]
    cancel_reason: Mapped[str | None] = mapped_column(sa.Text)
    # 区と連携・協働 / 区が支援, set by ward staff only (app.events.ward_relation, audited); None: neither.
    ward_relation: Mapped[WardRelation | None] = mapped_column(_enum(WardRelation), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    organization = relationship("Organization")
    room_booking = relationship("Booking")
    occurrences: Mapped[list[EventOccurrence]] = relationship(
        back_populates="series", cascade="all, delete-orphan", passive_deletes=True,
        order_by="EventOccurrence.starts_at",
    )
    audience_rows: Mapped[list[EventAudience]] = relationship(cascade="all, delete-orphan", passive_deletes=True)
    partner_rows: Mapped[list[EventPartner]] = relationship(cascade="all, delete-orphan", passive_deletes=True)

    @property
    def audiences(self) -> list[Audience]:
        return sorted((row.audience for row in self.audience_rows), key=list(Audience).index)

    @property
    def foreign_language_codes(self) -> list[str]:
        return [code for code in (self.foreign_languages or "").split(",") if code]

    @property
    def is_free(self) -> bool:
        return self.fee_yen == 0

    def is_public(self, now: datetime) -> bool:
        """Released (published, or cancelled after release) and past its scheduled publication time."""
        released = self.published_at is not None and self.status in (EventStatus.PUBLISHED, EventStatus.CANCELLED)
        return released and (self.publish_at is None or self.publish_at <= now)

    @classmethod
    def public_clause(cls, now: datetime):
        """The SQL form of is_public."""
        return sa.and_(cls.published_at.is_not(None), cls.status.in_([EventStatus.PUBLISHED, EventStatus.CANCELLED]),
                       sa.or_(cls.publish_at.is_(None), cls.publish_at <= now))

    def text(self, field: str, language: str) -> tuple[str | None, bool]:
        """FIELD ('title', 'summary', 'description') in LANGUAGE and whether Japanese was shown instead."""
        suffix = {"en": "en", "ja-easy": "easy"}.get(language)
        value = getattr(self, f"{field}_{suffix}") if suffix else None
        if value:
            return value, False
        japanese = getattr(self, f"{field}_ja")
        return japanese, bool(suffix and japanese)


class EventAudience(db.Model):
    """One audience of a series."""

    __tablename__ = "event_audiences"

    series_id: Mapped[int] = mapped_column(sa.ForeignKey("event_series.id", ondelete="CASCADE"), primary_key=True)
    audience: Mapped[Audience] = mapped_column(_enum(Audience), primary_key=True)


class EventPartner(db.Model):
    """A co-organizing organization of a series (counts for 多様な主体との連携数)."""

    __tablename__ = "event_partners"

    series_id: Mapped[int] = mapped_column(sa.ForeignKey("event_series.id", ondelete="CASCADE"), primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        sa.ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True, index=True
    )

    organization = relationship("Organization")


class EventOccurrence(db.Model):
    """One date of a series, with its own capacity and registrations. Its row is the capacity lock."""

    __tablename__ = "event_occurrences"
    __table_args__ = (sa.CheckConstraint("ends_at > starts_at", name="ends_after_start"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    series_id: Mapped[int] = mapped_column(sa.ForeignKey("event_series.id", ondelete="CASCADE"), index=True)
    starts_at: Mapped[datetime] = mapped_column(index=True)
    ends_at: Mapped[datetime]
    capacity: Mapped[int | None]  # None = no limit
    status: Mapped[OccurrenceStatus] = mapped_column(_enum(OccurrenceStatus), default=OccurrenceStatus.SCHEDULED)
    sequence: Mapped[int] = mapped_column(default=0)  # iCalendar SEQUENCE, raised on every change
    # This date's own room booking (app.events.venue), overriding the series' venue; cleared when it is released.
    room_booking_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("bookings.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Indexed: the feed cache's change signature reads max(updated_at) (app.events.queries.feed_signature).
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow, index=True)

    series: Mapped[EventSeries] = relationship(back_populates="occurrences")
    room_booking = relationship("Booking")

    @property
    def is_held(self) -> bool:
        """The Python form of held_clause (whether it has ended is the caller's to check)."""
        series = self.series
        if self.status != OccurrenceStatus.SCHEDULED:
            return False
        if series.status == EventStatus.PUBLISHED:
            return True
        return (series.status == EventStatus.CANCELLED and series.published_at is not None
                and series.cancelled_at is not None and self.starts_at <= series.cancelled_at)


def held_clause():
    """An occurrence that takes (or took) place: not cancelled itself, of a published event, or of an event
    released and cancelled later whose occurrence had started when it was cancelled (cancelling the rest of a
    series, app.events.series.cancel_series, cancels only the occurrences still ahead: what was held stays held,
    in the indicators and in the reports due). Needs EventSeries joined."""
    return sa.and_(
        EventOccurrence.status == OccurrenceStatus.SCHEDULED,
        sa.or_(
            EventSeries.status == EventStatus.PUBLISHED,
            sa.and_(EventSeries.status == EventStatus.CANCELLED, EventSeries.published_at.is_not(None),
                    EventSeries.cancelled_at.is_not(None), EventOccurrence.starts_at <= EventSeries.cancelled_at),
        ),
    )


class Registration(db.Model):
    """A person's place at an occurrence: confirmed, waitlisted (in queued_at order) or cancelled.

    The person is an account (user_id) or a guest who confirmed their e-mail address (guest_email), never both.
    """

    __tablename__ = "event_registrations"
    __table_args__ = (
        sa.UniqueConstraint("occurrence_id", "user_id"),
        sa.UniqueConstraint("occurrence_id", "guest_email"),
        sa.CheckConstraint("(user_id IS NULL) <> (guest_email IS NULL)", name="one_registrant"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    occurrence_id: Mapped[int] = mapped_column(
        sa.ForeignKey("event_occurrences.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    guest_email: Mapped[str | None] = mapped_column(sa.String(320))  # stored lower-cased
    guest_name: Mapped[str | None] = mapped_column(sa.String(80))
    guest_language: Mapped[str | None] = mapped_column(sa.String(16))
    status: Mapped[RegistrationStatus] = mapped_column(_enum(RegistrationStatus), index=True)
    queued_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    cancelled_at: Mapped[datetime | None]
    promoted_at: Mapped[datetime | None]

    occurrence: Mapped[EventOccurrence] = relationship()
    user = relationship("User")

    @property
    def email(self) -> str:
        return self.user.email if self.user_id else self.guest_email

    @property
    def name(self) -> str:
        return self.user.display_name if self.user_id else self.guest_name

    @property
    def language(self) -> str | None:
        return self.user.preferred_language if self.user_id else self.guest_language

    @property
    def is_guest(self) -> bool:
        return self.user_id is None


class CheckinCode(db.Model):
    """The short code of a registration, unique within its occurrence (typed at the door or read from the QR)."""

    __tablename__ = "checkin_codes"
    __table_args__ = (sa.UniqueConstraint("occurrence_id", "code", name="uq_checkin_codes_occurrence_code"),)

    registration_id: Mapped[int] = mapped_column(
        sa.ForeignKey("event_registrations.id", ondelete="CASCADE"), primary_key=True
    )
    occurrence_id: Mapped[int] = mapped_column(sa.ForeignKey("event_occurrences.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(sa.String(12))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
