"""The indicator catalog: indicators as printed in the plan, their printed values, and staff-entered values."""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.time import utcnow
from app.events.models import EventCategory, WardRelation
from app.extensions import db
from app.facilities.models import Room
from app.organizations.models import OrganizationKind


def _enum(cls):
    return sa.Enum(cls, native_enum=False, length=32, values_callable=lambda e: [m.value for m in e])


class DecimalValue(sa.types.TypeDecorator):
    """An exact decimal: NUMERIC(18,4) on PostgreSQL, text on SQLite (which has no exact decimal type)."""

    impl = sa.Numeric(18, 4)
    cache_ok = True

    def load_dialect_impl(self, dialect):
        if dialect.name == "sqlite":
            return dialect.type_descriptor(sa.String(40))
        return dialect.type_descriptor(sa.Numeric(18, 4, asdecimal=True))

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        value = Decimal(value)
        return str(value) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        # Drop the trailing zeros PostgreSQL pads to the column's scale: 24.0 stays 24.0, not 24.0000.
        return _trim(Decimal(str(value)))


def _trim(value: Decimal) -> Decimal:
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return Decimal(text)


class Direction(enum.StrEnum):
    """Which way is better for an indicator's value."""

    HIGHER = "higher"
    LOWER = "lower"
    UNKNOWN = "unknown"

    @property
    def label(self):
        return DIRECTION_LABELS[self]


DIRECTION_LABELS = {
    Direction.HIGHER: _l("高いほどよい"),
    Direction.LOWER: _l("低いほどよい"),
    Direction.UNKNOWN: _l("計画に記載なし"),
}


class SourceKind(enum.StrEnum):
    """Where an indicator's yearly value comes from: Tsudoi's own data, or a survey entered by staff."""

    BOOKING_UTILIZATION = "booking_utilization"  # 利用率: booked slots / bookable slots
    BOOKING_COUNT = "booking_count"  # 利用件数
    PARTICIPANT_SUM = "participant_sum"  # reported participants of mapped events
    PARTNER_ORGANIZATIONS = "partner_organizations"  # distinct partner organizations of mapped events
    REGISTRY_COUNT = "registry_count"  # counts from the organization registry
    MANUAL = "manual"  # survey results and other figures entered by staff

    @property
    def label(self):
        return SOURCE_KIND_LABELS[self]

    @property
    def is_computed(self) -> bool:
        return self is not SourceKind.MANUAL


SOURCE_KIND_LABELS = {
    SourceKind.BOOKING_UTILIZATION: _l("施設予約から計算(利用率)"),
    SourceKind.BOOKING_COUNT: _l("施設予約から計算(利用件数)"),
    SourceKind.PARTICIPANT_SUM: _l("イベントの参加報告から計算(参加者数の合計)"),
    SourceKind.PARTNER_ORGANIZATIONS: _l("イベントから計算(連携した団体の数)"),
    SourceKind.REGISTRY_COUNT: _l("団体の登録情報から計算"),
    SourceKind.MANUAL: _l("職員が入力(調査結果など)"),
}


class PlanValueKind(enum.StrEnum):
    """The printed columns of the plan's tables."""

    BASELINE = "baseline"  # 当初 (実績)
    MIDTERM_TARGET = "midterm_target"  # 中間 目標
    MIDTERM_ACTUAL = "midterm_actual"  # 中間 実績 (見込)
    INTERIM_TARGET = "interim_target"  # 計画目標値 中間 (令和7年度, policy level only)
    FINAL_TARGET = "final_target"  # 計画目標値 最終 (令和8年度末)

    @property
    def label(self):
        return PLAN_VALUE_KIND_LABELS[self]


PLAN_VALUE_KIND_LABELS = {
    PlanValueKind.BASELINE: _l("当初"),
    PlanValueKind.MIDTERM_TARGET: _l("中間目標"),
    PlanValueKind.MIDTERM_ACTUAL: _l("中間実績"),
    PlanValueKind.INTERIM_TARGET: _l("計画目標値(中間)"),
    PlanValueKind.FINAL_TARGET: _l("計画目標値(最終)"),
}


class Indicator(db.Model):
    """An outcome indicator (成果指標) exactly as the plan prints it; unknown values stay NULL."""

    __tablename__ = "indicators"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(16), unique=True)
    sort_order: Mapped[int] = mapped_column(default=0)
    policy: Mapped[int] = mapped_column(index=True)
    measure: Mapped[str | None] = mapped_column(sa.String(16))  # 施策① ...; NULL for the policy-level indicator
    measure_title: Mapped[str | None] = mapped_column(sa.String(200))
    name: Mapped[str] = mapped_column(sa.Text)  # as printed, without its footnote mark
    footnote_marker: Mapped[str | None] = mapped_column(sa.String(8))
    unit: Mapped[str | None] = mapped_column(sa.String(16))  # NULL when the plan prints none
    direction: Mapped[Direction] = mapped_column(_enum(Direction), default=Direction.UNKNOWN)
    direction_basis: Mapped[str | None] = mapped_column(sa.Text)
    source_kind: Mapped[SourceKind] = mapped_column(_enum(SourceKind), default=SourceKind.MANUAL)
    midterm_status: Mapped[str | None] = mapped_column(sa.String(16))  # 達成状況 as printed; NULL if unreadable
    footnotes: Mapped[str | None] = mapped_column(sa.Text)
    review_note: Mapped[str | None] = mapped_column(sa.Text)
    source_line: Mapped[int | None]  # line of the plan text (app/indicators/data) the row was read from
    # Set when staff first save the mapping rules: from then on the catalog load no longer seeds defaults.
    rules_edited_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    plan_values: Mapped[list[PlanValue]] = relationship(
        back_populates="indicator", cascade="all, delete-orphan", passive_deletes=True, order_by="PlanValue.id"
    )
    manual_values: Mapped[list[ManualValue]] = relationship(
        back_populates="indicator", cascade="all, delete-orphan", passive_deletes=True,
        order_by="ManualValue.fiscal_year",
    )
    rules: Mapped[list[MappingRule]] = relationship(
        back_populates="indicator", cascade="all, delete-orphan", passive_deletes=True, order_by="MappingRule.id",
    )

    def plan_value(self, kind: PlanValueKind) -> PlanValue | None:
        """The printed value of KIND, or None when the plan's table has no such column."""
        return next((v for v in self.plan_values if v.kind == kind), None)

    @property
    def is_percentage(self) -> bool:
        return self.unit == "%"

    def __repr__(self) -> str:
        return f"<Indicator {self.code}>"


class PlanValue(db.Model):
    """A value printed in the plan's table: baseline, mid-term target/actual, interim and final targets."""

    __tablename__ = "indicator_plan_values"
    __table_args__ = (sa.UniqueConstraint("indicator_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    indicator_id: Mapped[int] = mapped_column(sa.ForeignKey("indicators.id", ondelete="CASCADE"), index=True)
    kind: Mapped[PlanValueKind] = mapped_column(_enum(PlanValueKind))
    fiscal_year: Mapped[int]  # 年度 named by its starting western year
    year_label: Mapped[str] = mapped_column(sa.String(32))  # as printed: 令和元年度, 令和8年度末
    value: Mapped[Decimal | None] = mapped_column(DecimalValue())  # NULL: unknown (garbled, "—" or silent)
    printed: Mapped[str | None] = mapped_column(sa.String(64))  # the cell as printed, e.g. "15,781 人"
    is_estimate: Mapped[bool] = mapped_column(default=False)  # 見込

    indicator: Mapped[Indicator] = relationship(back_populates="plan_values")


class ManualValue(db.Model):
    """A yearly value entered by staff (survey results); one per indicator and fiscal year, re-entry replaces it."""

    __tablename__ = "indicator_manual_values"
    __table_args__ = (sa.UniqueConstraint("indicator_id", "fiscal_year"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    indicator_id: Mapped[int] = mapped_column(sa.ForeignKey("indicators.id", ondelete="CASCADE"), index=True)
    fiscal_year: Mapped[int]
    value: Mapped[Decimal] = mapped_column(DecimalValue())
    source_document: Mapped[str] = mapped_column(sa.String(300))
    source_date: Mapped[date | None]
    note: Mapped[str | None] = mapped_column(sa.Text)
    entered_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    entered_at: Mapped[datetime] = mapped_column(default=utcnow)

    indicator: Mapped[Indicator] = relationship(back_populates="manual_values")
    entered_by = relationship("User")


class MatchKind(enum.StrEnum):
    """What a mapping rule matches an event series on."""

    CATEGORY = "category"  # the series' category (EventCategory value)
    ORGANIZATION_KIND = "organization_kind"  # the organizing group's kind (OrganizationKind value)
    SERIES = "series"  # one series, linked explicitly
    WARD_RELATION = "ward_relation"  # how ward staff marked the series (WardRelation value: 区と連携・協働, 区が支援)
    ROOM = "room"  # one room (its id) whose bookings a booking count counts (「交流の間」利用件数)

    @property
    def label(self):
        return MATCH_KIND_LABELS[self]


MATCH_KIND_LABELS = {
    MatchKind.CATEGORY: _l("イベントの分類"),
    MatchKind.ORGANIZATION_KIND: _l("主催団体の種類"),
    MatchKind.SERIES: _l("個別のイベント"),
    MatchKind.WARD_RELATION: _l("区との関係(区の職員が付けた印)"),
    MatchKind.ROOM: _l("数える部屋"),
}


class MappingRule(db.Model):
    """Which events feed a computed indicator: an event matching ANY rule of the indicator counts, once."""

    __tablename__ = "indicator_rules"
    __table_args__ = (
        sa.UniqueConstraint("indicator_id", "match", "value", name="uq_indicator_rules_indicator_match_value"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    indicator_id: Mapped[int] = mapped_column(sa.ForeignKey("indicators.id", ondelete="CASCADE"), index=True)
    match: Mapped[MatchKind] = mapped_column(_enum(MatchKind))
    # The category or organization kind value, or the series id as text (no FK: a deleted series matches nothing).
    value: Mapped[str] = mapped_column(sa.String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))

    indicator: Mapped[Indicator] = relationship(back_populates="rules")

    @property
    def value_label(self) -> str:
        """What the rule matches, as people read it (a category's or a group kind's name, an event number)."""
        try:
            if self.match == MatchKind.CATEGORY:
                return str(EventCategory(self.value).label)
            if self.match == MatchKind.ORGANIZATION_KIND:
                return str(OrganizationKind(self.value).label)
            if self.match == MatchKind.WARD_RELATION:
                return str(WardRelation(self.value).label)
        except ValueError:
            return self.value
        if self.match == MatchKind.ROOM:
            room = db.session.get(Room, int(self.value)) if self.value.isdigit() else None
            if room is None:
                return str(_l("部屋番号 %(number)s(見つかりません)", number=self.value))
            return f"{room.facility.name_ja} {room.name_ja}"
        return str(_l("イベント番号 %(number)s", number=self.value))


class FrozenYear(db.Model):
    """A closed fiscal year whose indicator values are frozen: pages read its snapshots, not live data."""

    __tablename__ = "indicator_frozen_years"

    fiscal_year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    frozen_at: Mapped[datetime] = mapped_column(default=utcnow)
    frozen_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))

    frozen_by = relationship("User")


class Snapshot(db.Model):
    """An indicator's value for a frozen fiscal year, as computed at the freeze (with completeness and breakdowns)."""

    __tablename__ = "indicator_snapshots"
    __table_args__ = (sa.UniqueConstraint("indicator_id", "fiscal_year"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    indicator_id: Mapped[int] = mapped_column(sa.ForeignKey("indicators.id", ondelete="CASCADE"), index=True)
    fiscal_year: Mapped[int] = mapped_column(
        sa.ForeignKey("indicator_frozen_years.fiscal_year", ondelete="CASCADE"), index=True
    )
    value: Mapped[Decimal | None] = mapped_column(DecimalValue())  # NULL: nothing to compute from
    ended: Mapped[int | None]  # ended mapped occurrences (completeness denominator)
    reported: Mapped[int | None]  # of them with an approved report
    details: Mapped[dict | None] = mapped_column(sa.JSON)  # origin, breakdowns by district and month
