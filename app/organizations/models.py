"""Organizations (団体), their memberships, invitations and per-fiscal-year NPO grant use."""

from __future__ import annotations

import enum
from datetime import date, datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.districts import District, district_column_type
from app.core.time import utcnow
from app.extensions import db


def _enum(cls):
    return sa.Enum(cls, native_enum=False, length=32, values_callable=lambda e: [m.value for m in e])


class OrganizationKind(enum.StrEnum):
    """Kinds of group named in the plan; fees, 減免 and lottery tiers depend on them."""

    NEIGHBORHOOD_ASSOCIATION = "neighborhood_association"  # 町会・自治会
    NPO = "npo"  # NPO法人
    VOLUNTEER_GROUP = "volunteer_group"  # ボランティア団体
    SHOPPING_STREET = "shopping_street"  # 商店会
    UNIVERSITY = "university"  # 大学
    COMPANY = "company"  # 企業
    INTERNATIONAL = "international"  # 大使館・国際交流団体
    CULTURE_ARTS = "culture_arts"  # 文化芸術団体
    WARD_SECTION = "ward_section"  # 区の部署
    OTHER = "other"  # その他

    @property
    def label(self):
        return ORGANIZATION_KIND_LABELS[self]


ORGANIZATION_KIND_LABELS = {
    OrganizationKind.NEIGHBORHOOD_ASSOCIATION: _l("町会・自治会"),
    OrganizationKind.NPO: _l("NPO法人"),
    OrganizationKind.VOLUNTEER_GROUP: _l("ボランティア団体"),
    OrganizationKind.SHOPPING_STREET: _l("商店会"),
    OrganizationKind.UNIVERSITY: _l("大学"),
    OrganizationKind.COMPANY: _l("企業"),
    OrganizationKind.INTERNATIONAL: _l("大使館・国際交流団体"),
    OrganizationKind.CULTURE_ARTS: _l("文化芸術団体"),
    OrganizationKind.WARD_SECTION: _l("区の部署"),
    OrganizationKind.OTHER: _l("その他"),
}


class VerificationStatus(enum.StrEnum):
    """Staff verification of a group's registration (団体登録)."""

    PENDING = "pending"
    VERIFIED = "verified"
    EXPIRED = "expired"
    REJECTED = "rejected"

    @property
    def label(self):
        return VERIFICATION_LABELS[self]


VERIFICATION_LABELS = {
    VerificationStatus.PENDING: _l("確認待ち"),
    VerificationStatus.VERIFIED: _l("登録済み"),
    VerificationStatus.EXPIRED: _l("登録期限切れ"),
    VerificationStatus.REJECTED: _l("登録できませんでした"),
}


class MembershipRole(enum.StrEnum):
    """A person's role in a group: officers manage it, editors write events, members belong."""

    OFFICER = "officer"
    EDITOR = "editor"
    MEMBER = "member"

    @property
    def label(self):
        return MEMBERSHIP_ROLE_LABELS[self]


MEMBERSHIP_ROLE_LABELS = {
    MembershipRole.OFFICER: _l("役員"),
    MembershipRole.EDITOR: _l("編集者"),
    MembershipRole.MEMBER: _l("会員"),
}


class Organization(db.Model):
    """A group. Public profile per language (Japanese required, the others fall back to it); private contact."""

    __tablename__ = "organizations"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[OrganizationKind] = mapped_column(_enum(OrganizationKind), index=True)
    district: Mapped[District] = mapped_column(district_column_type(), index=True)
    name_ja: Mapped[str] = mapped_column(sa.String(200))
    name_en: Mapped[str | None] = mapped_column(sa.String(200))
    name_easy: Mapped[str | None] = mapped_column(sa.String(200))
    description_ja: Mapped[str | None] = mapped_column(sa.Text)
    description_en: Mapped[str | None] = mapped_column(sa.Text)
    description_easy: Mapped[str | None] = mapped_column(sa.Text)
    public_email: Mapped[str | None] = mapped_column(sa.String(320))
    public_phone: Mapped[str | None] = mapped_column(sa.String(40))
    website_url: Mapped[str | None] = mapped_column(sa.String(500))
    logo_name: Mapped[str | None] = mapped_column(sa.String(80))  # re-encoded JPEG in instance/uploads/logos
    # Private contact: seen by the group's officers and ward staff only.
    contact_name: Mapped[str | None] = mapped_column(sa.String(100))
    contact_email: Mapped[str | None] = mapped_column(sa.String(320))
    contact_phone: Mapped[str | None] = mapped_column(sa.String(40))
    member_count: Mapped[int | None]
    # 商店会 only: number of shops and membership of 港区商店街連合会 (None = unknown).
    shop_count: Mapped[int | None]
    in_shotengai_federation: Mapped[bool | None]
    status: Mapped[VerificationStatus] = mapped_column(
        _enum(VerificationStatus), default=VerificationStatus.PENDING, index=True
    )
    verified_until: Mapped[date | None]
    verified_at: Mapped[datetime | None]
    verified_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    rejection_reason: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    memberships: Mapped[list[Membership]] = relationship(
        back_populates="organization", cascade="all, delete-orphan", passive_deletes=True
    )
    npo_grants: Mapped[list[NpoGrantUse]] = relationship(
        back_populates="organization", cascade="all, delete-orphan", passive_deletes=True,
        order_by="NpoGrantUse.fiscal_year",
    )

    @property
    def is_verified(self) -> bool:
        return self.status == VerificationStatus.VERIFIED

    def name_in(self, language: str) -> str:
        """The name in LANGUAGE ('ja', 'en', 'ja-easy'), falling back to Japanese."""
        value = {"en": self.name_en, "ja-easy": self.name_easy}.get(language)
        return value or self.name_ja

    def description_in(self, language: str) -> str | None:
        """The description in LANGUAGE, falling back to Japanese."""
        value = {"en": self.description_en, "ja-easy": self.description_easy}.get(language)
        return value or self.description_ja


class Membership(db.Model):
    """A person in a group with a role; one row per person and group."""

    __tablename__ = "organization_memberships"
    __table_args__ = (sa.UniqueConstraint("organization_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(sa.ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[MembershipRole] = mapped_column(_enum(MembershipRole))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    organization: Mapped[Organization] = relationship(back_populates="memberships")
    user = relationship("User")


class Invitation(db.Model):
    """An e-mailed invitation to join a group; only the token's SHA-256 is stored."""

    __tablename__ = "organization_invitations"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(sa.ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(sa.String(320))
    role: Mapped[MembershipRole] = mapped_column(_enum(MembershipRole))
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    invited_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    accepted_at: Mapped[datetime | None]

    organization: Mapped[Organization] = relationship()


class NpoGrantUse(db.Model):
    """An NPO's use of the ward's NPO活動助成制度 in one fiscal year (年度, named by its starting year)."""

    __tablename__ = "organization_npo_grants"
    __table_args__ = (sa.UniqueConstraint("organization_id", "fiscal_year"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(sa.ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    fiscal_year: Mapped[int]
    uses_grant: Mapped[bool] = mapped_column(default=True)

    organization: Mapped[Organization] = relationship(back_populates="npo_grants")
