"""Factories for facilities: a 区民センター with a hall split in two halves, a meeting room, an hourly room."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import time

from app.core.districts import District
from app.extensions import db
from app.facilities.models import (
    Closure,
    ClosureKind,
    Facility,
    FacilityKind,
    FacilityStaff,
    FeeRate,
    FeeReduction,
    Room,
    RoomKind,
    TimeSlot,
    UserCategory,
)
from app.lottery.models import LotteryPeriod
from app.organizations.models import Organization, OrganizationKind, VerificationStatus
from tests.factories import app_context

_counter = itertools.count(1)

STANDARD_SLOTS = (
    ("morning", "午前", time(9, 0), time(12, 0)),
    ("afternoon", "午後", time(13, 0), time(17, 0)),
    ("evening", "夜間", time(18, 0), time(21, 30)),
)


@dataclass(frozen=True)
class Center:
    """Ids of a made facility, readable after the context closes."""

    facility_id: int
    hall_id: int
    hall_a_id: int
    hall_b_id: int
    meeting_id: int
    studio_id: int  # hourly
    slot_ids: dict[str, int]


def make_center(*, name: str | None = None, fee: int = 1000, **facility_options) -> Center:
    """A committed facility: ホール (whole) with halves A and B, 会議室, 音楽スタジオ let by the hour; fees set."""
    n = next(_counter)
    with app_context():
        facility = Facility(
            kind=FacilityKind.COMMUNITY_CENTER, district=District.AKASAKA, name_ja=name or f"テスト区民センター{n}",
            address_ja="港区赤坂4-18-13", **facility_options,
        )
        db.session.add(facility)
        db.session.flush()
        hall = Room(facility_id=facility.id, kind=RoomKind.HALL, name_ja="ホール", capacity=120, sort_order=1)
        db.session.add(hall)
        db.session.flush()
        hall_a = Room(facility_id=facility.id, parent_id=hall.id, kind=RoomKind.HALL, name_ja="ホールA",
                      capacity=60, sort_order=2)
        hall_b = Room(facility_id=facility.id, parent_id=hall.id, kind=RoomKind.HALL, name_ja="ホールB",
                      capacity=60, sort_order=3)
        meeting = Room(facility_id=facility.id, kind=RoomKind.MEETING, name_ja="会議室1", capacity=20, sort_order=4)
        studio = Room(facility_id=facility.id, kind=RoomKind.MUSIC, name_ja="音楽スタジオ", capacity=8,
                      hourly=True, sort_order=5)
        db.session.add_all([hall_a, hall_b, meeting, studio])
        slots = {}
        for code, label, start, end in STANDARD_SLOTS:
            slot = TimeSlot(facility_id=facility.id, code=code, label_ja=label, start_time=start, end_time=end)
            db.session.add(slot)
            slots[code] = slot
        db.session.flush()
        for room in (hall, hall_a, hall_b, meeting):
            for code, _label, _s, _e in STANDARD_SLOTS:
                for category, factor in ((UserCategory.RESIDENT, 1), (UserCategory.OUTSIDE, 2),
                                         (UserCategory.COMMERCIAL, 3)):
                    db.session.add(FeeRate(room_id=room.id, slot_code=code, category=category,
                                           amount_yen=fee * factor * (2 if room is hall else 1)))
        for category, factor in ((UserCategory.RESIDENT, 1), (UserCategory.OUTSIDE, 2), (UserCategory.COMMERCIAL, 3)):
            db.session.add(FeeRate(room_id=studio.id, slot_code="hour", category=category, amount_yen=300 * factor))
        db.session.commit()
        return Center(facility.id, hall.id, hall_a.id, hall_b.id, meeting.id, studio.id,
                      {code: s.id for code, s in slots.items()})


def add_closure(facility_id: int, start, end, *, room_id: int | None = None,
                kind: ClosureKind = ClosureKind.TEMPORARY) -> None:
    """A committed closure [start, end)."""
    with app_context():
        db.session.add(Closure(facility_id=facility_id, room_id=room_id, kind=kind, start_date=start, end_date=end,
                               reason_ja="設備点検"))
        db.session.commit()


def add_lottery(facility_id: int, start, end, *, room_id: int | None = None) -> None:
    with app_context():
        db.session.add(LotteryPeriod(facility_id=facility_id, room_id=room_id, start_date=start, end_date=end))
        db.session.commit()


def assign_staff(user_id: int, facility_id: int) -> None:
    with app_context():
        db.session.add(FacilityStaff(user_id=user_id, facility_id=facility_id))
        db.session.commit()


def make_organization(*, kind=OrganizationKind.NEIGHBORHOOD_ASSOCIATION, verified: bool = True,
                      officer_id: int | None = None, reduction_percent: int | None = None) -> int:
    """A committed organization (optionally with an officer and a 減免 rule for its kind); returns its id."""
    from app.organizations.models import Membership, MembershipRole

    with app_context():
        organization = Organization(
            kind=kind, district=District.AKASAKA, name_ja=f"テスト町会{next(_counter)}",
            status=VerificationStatus.VERIFIED if verified else VerificationStatus.PENDING,
        )
        db.session.add(organization)
        db.session.flush()
        if officer_id:
            db.session.add(Membership(organization_id=organization.id, user_id=officer_id,
                                      role=MembershipRole.OFFICER))
        if reduction_percent is not None:
            db.session.add(FeeReduction(organization_kind=kind, percent=reduction_percent))
        db.session.commit()
        return organization.id


def add_equipment(facility_id: int, name: str = "プロジェクター", fee: int = 500, *, kind=None,
                  room_id: int | None = None) -> int:
    """A committed 付帯設備 (of the whole facility, or of ROOM_ID); returns its id."""
    from app.facilities.models import Equipment, EquipmentKind

    with app_context():
        item = Equipment(facility_id=facility_id, name_ja=name, fee_yen=fee, kind=kind or EquipmentKind.OTHER,
                         room_id=room_id)
        db.session.add(item)
        db.session.commit()
        return item.id
