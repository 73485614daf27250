"""Organizations (団体) and their verification state."""

from __future__ import annotations

import enum
from datetime import date, datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column

from app.core.districts import District, district_column_type
from app.core.time import utcnow
from app.extensions import db


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


class Organization(db.Model):
    """A group. Names per language; Japanese required, the others fall back to it."""

    __tablename__ = "organizations"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[OrganizationKind] = mapped_column(
        sa.Enum(OrganizationKind, native_enum=False, length=32, values_callable=lambda e: [m.value for m in e]),
        index=True,
    )
    district: Mapped[District] = mapped_column(district_column_type(), index=True)
    name_ja: Mapped[str] = mapped_column(sa.String(200))
    name_en: Mapped[str | None] = mapped_column(sa.String(200))
    name_easy: Mapped[str | None] = mapped_column(sa.String(200))
    status: Mapped[VerificationStatus] = mapped_column(
        sa.Enum(VerificationStatus, native_enum=False, length=32, values_callable=lambda e: [m.value for m in e]),
        default=VerificationStatus.PENDING,
        index=True,
    )
    verified_until: Mapped[date | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def is_verified(self) -> bool:
        return self.status == VerificationStatus.VERIFIED
