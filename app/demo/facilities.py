"""Demo facilities of Minato with rooms, 時間区分, fees, 減免, closures, a lottery period, a staff assignment and
bookings over the coming weeks: 区民センター, rooms in the style of the 男女平等参画センター, a 区民協働スペース and the
伝統文化交流館 with its hall 交流の間.

Addresses are those of the real buildings as far as we know them; coordinates and POIコード are left unknown
(None) rather than guessed. Fees are illustrative, not the ward's tariff.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from datetime import date, time, timedelta

import sqlalchemy as sa

from app.accounts.models import User
from app.bookings import series as series_services
from app.bookings.models import Booking, BookingClaim, BookingItem, BookingSeries, BookingState
from app.core.districts import District
from app.core.time import today_tokyo, tokyo_to_utc, utcnow
from app.demo.accounts import DEMO_ACCOUNTS
from app.demo.loaders import ORDER_BOOKINGS, ORDER_FACILITIES, DemoReport, demo_loader
from app.facilities.availability import RoomNode, cells, leaves
from app.facilities.models import (
    Closure,
    ClosureKind,
    Equipment,
    EquipmentKind,
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
from app.lottery import periods as lottery_periods
from app.lottery.models import ANY_OTHER, INDIVIDUAL, LotteryPeriod
from app.organizations.models import Organization, OrganizationKind, VerificationStatus
from app.organizations.models import OrganizationKind as Kind

STANDARD = (("morning", "午前", "Morning", time(9), time(12)), ("afternoon", "午後", "Afternoon", time(13), time(17)),
            ("evening", "夜間", "Evening", time(18), time(21, 30)))


@dataclass(frozen=True)
class RoomSpec:
    """A demo room; halves are rooms whose parent is the named room."""

    name_ja: str
    name_en: str
    kind: RoomKind
    capacity: int
    area_m2: float | None
    fee: int  # 区内, per morning slot; other slots and categories derive from it
    parent: str | None = None
    hourly: bool = False
    requires_approval: bool = False


@dataclass(frozen=True)
class FacilitySpec:
    """A demo facility; name_ja is its natural key."""

    name_ja: str
    name_en: str
    name_easy: str | None
    kind: FacilityKind
    district: District
    address_ja: str
    address_en: str
    opening_hours_ja: str
    rooms: tuple[RoomSpec, ...]
    barrier_free: dict = field(default_factory=dict)
    extra_slots: tuple = ()  # (code, label_ja, label_en, start, end, weekday)
    maintenance_monday: int | None = None  # the n-th Monday of each month closed for maintenance, as the hours say
    slots: tuple = STANDARD  # (code, label_ja, label_en, start, end)
    name_kana: str | None = None  # the name's reading in katakana (名称_カナ of the open data)


R = RoomSpec
ALL_FREE = dict(has_elevator=True, has_accessible_toilet=True, has_step_free_entrance=True)

FACILITIES: tuple[FacilitySpec, ...] = (
    FacilitySpec(
        "赤坂区民センター", "Akasaka Community Center", "あかさか くみん センター", FacilityKind.COMMUNITY_CENTER,
        District.AKASAKA, "港区赤坂4-18-13 赤坂コミュニティーぷらざ内", "4-18-13 Akasaka, Minato-ku",
        "9:00〜21:30(年末年始・第3月曜日は休館)",
        (R("区民ホール", "Community Hall", RoomKind.HALL, 200, 280.0, 6000, requires_approval=False),
         R("区民ホールA", "Community Hall A", RoomKind.HALL, 100, 140.0, 3000, parent="区民ホール"),
         R("区民ホールB", "Community Hall B", RoomKind.HALL, 100, 140.0, 3000, parent="区民ホール"),
         R("第1会議室", "Meeting Room 1", RoomKind.MEETING, 24, 45.0, 1200),
         R("第2会議室", "Meeting Room 2", RoomKind.MEETING, 18, 36.0, 1000),
         R("和室", "Japanese-style Room", RoomKind.JAPANESE, 20, 40.0, 900),
         R("音楽スタジオ", "Music Studio", RoomKind.MUSIC, 8, 25.0, 0, hourly=True)),
        {**ALL_FREE, "has_hearing_loop": True, "has_nursing_room": True, "has_parking": False},
        name_kana="アカサカクミンセンター",
        maintenance_monday=3,
    ),
    FacilitySpec(
        "麻布区民センター", "Azabu Community Center", "あざぶ くみん センター", FacilityKind.COMMUNITY_CENTER,
        District.AZABU, "港区六本木5-16-45", "5-16-45 Roppongi, Minato-ku", "9:00〜21:30(年末年始・第2月曜日は休館)",
        (R("集会室", "Assembly Room", RoomKind.MULTIPURPOSE, 60, 90.0, 2400),
         R("第1会議室", "Meeting Room 1", RoomKind.MEETING, 20, 40.0, 1000),
         R("調理室", "Cooking Studio", RoomKind.COOKING, 24, 60.0, 1500),
         R("和室", "Japanese-style Room", RoomKind.JAPANESE, 16, 32.0, 800)),
        {**ALL_FREE, "has_parking": False},
        name_kana="アザブクミンセンター",
        maintenance_monday=2,
    ),
    FacilitySpec(
        "高輪区民センター", "Takanawa Community Center", "たかなわ くみん センター", FacilityKind.COMMUNITY_CENTER,
        District.TAKANAWA, "港区高輪1-16-25 高輪コミュニティーぷらざ内", "1-16-25 Takanawa, Minato-ku",
        "9:00〜21:30(年末年始・第4月曜日は休館)",
        (R("区民ホール", "Community Hall", RoomKind.HALL, 300, 400.0, 9000, requires_approval=True),
         R("第1集会室", "Assembly Room 1", RoomKind.MULTIPURPOSE, 40, 70.0, 1600),
         R("第2集会室", "Assembly Room 2", RoomKind.MULTIPURPOSE, 40, 70.0, 1600),
         R("音楽室", "Music Room", RoomKind.MUSIC, 15, 45.0, 0, hourly=True)),
        {**ALL_FREE, "has_hearing_loop": True},
        name_kana="タカナワクミンセンター",
        maintenance_monday=4,
    ),
    FacilitySpec(
        "芝浦港南区民センター", "Shibaura-Konan Community Center", "しばうら こうなん くみん センター",
        FacilityKind.COMMUNITY_CENTER, District.SHIBAURA_KONAN, "港区芝浦1-16-1 みなとパーク芝浦内",
        "1-16-1 Shibaura, Minato-ku (Minato Park Shibaura)", "9:00〜21:30(年末年始は休館)",
        (R("多目的ホール", "Multipurpose Hall", RoomKind.HALL, 120, 180.0, 4000),
         R("多目的ホールA", "Multipurpose Hall A", RoomKind.HALL, 60, 90.0, 2000, parent="多目的ホール"),
         R("多目的ホールB", "Multipurpose Hall B", RoomKind.HALL, 60, 90.0, 2000, parent="多目的ホール"),
         R("会議室", "Meeting Room", RoomKind.MEETING, 30, 50.0, 1200),
         # Rooms in the style of the 男女平等参画センター (リーブラ) in the same building.
         R("リーブラ 学習室", "Libra Study Room", RoomKind.MEETING, 30, 55.0, 1100),
         R("リーブラ 保育室つき和室", "Libra Japanese Room with Childcare Space", RoomKind.JAPANESE, 12, 30.0, 700)),
        {**ALL_FREE, "has_nursing_room": True, "has_parking": True},
        name_kana="シバウラコウナンクミンセンター",
    ),
    FacilitySpec(
        "区民協働スペース(芝)", "Community Collaboration Space (Shiba)", "みんなで つかう へや(しば)",
        FacilityKind.COLLABORATION_SPACE, District.SHIBA, "港区芝5-36-4 札の辻スクエア内",
        "5-36-4 Shiba, Minato-ku (Fudanotsuji Square)", "9:00〜21:30(年末年始は休館)",
        (R("協働スペースA", "Collaboration Space A", RoomKind.MULTIPURPOSE, 12, 30.0, 0, hourly=True),
         R("協働スペースB", "Collaboration Space B", RoomKind.MULTIPURPOSE, 12, 30.0, 0, hourly=True)),
        ALL_FREE,
        # Sundays close earlier: a weekday template that differs from the default.
        extra_slots=(("morning", "午前", "Morning", time(9), time(12), 6),
                     ("afternoon", "午後", "Afternoon", time(13), time(17), 6)),
        name_kana="クミンキョウドウスペース シバ",  # the reading allows no parentheses: a space instead
    ),
    FacilitySpec(
        "伝統文化交流館", "Traditional Culture Exchange House", "でんとう ぶんか こうりゅうかん",
        FacilityKind.TRADITIONAL_CULTURE, District.SHIBAURA_KONAN, "港区芝浦1-11-15", "1-11-15 Shibaura, Minato-ku",
        "9:00〜21:00(第3月曜日・年末年始は休館)",
        (R("交流の間", "Koryu-no-Ma (Exchange Room)", RoomKind.JAPANESE, 60, 120.0, 2500, requires_approval=True),
         R("会議室", "Meeting Room", RoomKind.MEETING, 15, 25.0, 800)),
        {"has_elevator": False, "has_accessible_toilet": True, "has_step_free_entrance": None},
        name_kana="デントウブンカコウリュウカン",
        maintenance_monday=3,
        slots=STANDARD[:2] + (("evening", "夜間", "Evening", time(18), time(21)),),  # it closes at 21:00
    ),
)

EQUIPMENT = (("プロジェクター", "Projector", 500, EquipmentKind.PROJECTOR),
             ("ワイヤレスマイク", "Wireless microphone", 200, EquipmentKind.MICROPHONE),
             ("グランドピアノ", "Grand piano", 1500, EquipmentKind.PIANO))
REDUCTIONS = ((OrganizationKind.NEIGHBORHOOD_ASSOCIATION, 100), (OrganizationKind.WARD_SECTION, 100),
              (OrganizationKind.NPO, 50), (OrganizationKind.VOLUNTEER_GROUP, 50))
SLOT_FACTOR = {"morning": 1.0, "afternoon": 1.3, "evening": 1.5}
CATEGORY_FACTOR = {UserCategory.RESIDENT: 1.0, UserCategory.OUTSIDE: 1.5, UserCategory.COMMERCIAL: 2.0}


_HOURS = re.compile(r"(\d+:\d\d)〜(\d+:\d\d)(?:\((.+)は休館\))?$")
_ORDINALS = {"1": "1st", "2": "2nd", "3": "3rd", "4": "4th"}


def opening_hours_in(hours_ja: str, language: str) -> str:
    """The demo's opening hours ('9:00〜21:30(年末年始・第3月曜日は休館)') in English or easy Japanese."""
    opens, closes, closed = _HOURS.match(hours_ja).groups()
    days = [(day, "".join(ch for ch in day if ch.isdigit())) for day in (closed.split("・") if closed else [])]
    if language == "en":
        names = ["Dec 29–Jan 3" if day == "年末年始" else f"on the {_ORDINALS[n]} Monday of each month"
                 for day, n in days]
        return f"{opens}–{closes}" + (f" (closed {' and '.join(names)})" if names else "")
    names = ["ねんまつ ねんし(12月29日〜1月3日)" if day == "年末年始" else f"まいつき だい{n} げつようび"
             for day, n in days]
    return f"{opens}〜{closes}" + (f"。やすみ: {'、'.join(names)}" if names else "")


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    first = date(year, month, 1)
    return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))


def _add_facility(session, spec: FacilitySpec, report: DemoReport) -> None:
    facility = Facility(
        kind=spec.kind, district=spec.district, name_ja=spec.name_ja, name_en=spec.name_en, name_easy=spec.name_easy,
        address_ja=spec.address_ja, address_en=spec.address_en, opening_hours_ja=spec.opening_hours_ja,
        opening_hours_en=opening_hours_in(spec.opening_hours_ja, "en"),
        opening_hours_easy=opening_hours_in(spec.opening_hours_ja, "easy"), name_kana=spec.name_kana,
        notes_ja="予約は2か月前(区内の団体は3か月前)から。使用料は窓口でお支払いください。",
        notes_en="Book up to 2 months ahead (3 months for groups in the city). Pay the fee at the desk.",
        **spec.barrier_free,
    )
    session.add(facility)
    session.flush()
    by_name: dict[str, Room] = {}
    for order, room_spec in enumerate(spec.rooms, start=1):
        room = Room(
            facility_id=facility.id, kind=room_spec.kind, name_ja=room_spec.name_ja, name_en=room_spec.name_en,
            capacity=room_spec.capacity, area_m2=room_spec.area_m2, hourly=room_spec.hourly,
            requires_approval=room_spec.requires_approval, sort_order=order,
            parent_id=by_name[room_spec.parent].id if room_spec.parent else None,
        )
        session.add(room)
        session.flush()
        by_name[room_spec.name_ja] = room
        for category, factor in CATEGORY_FACTOR.items():
            if room_spec.hourly:
                session.add(FeeRate(room_id=room.id, slot_code="hour", category=category,
                                    amount_yen=int(400 * factor)))
                continue
            for code, slot_factor in SLOT_FACTOR.items():
                session.add(FeeRate(room_id=room.id, slot_code=code, category=category,
                                    amount_yen=int(room_spec.fee * slot_factor * factor) // 10 * 10))
    for code, label_ja, label_en, start, end in spec.slots:
        session.add(TimeSlot(facility_id=facility.id, code=code, label_ja=label_ja, label_en=label_en,
                             start_time=start, end_time=end))
    for code, label_ja, label_en, start, end, weekday in spec.extra_slots:
        session.add(TimeSlot(facility_id=facility.id, code=code, label_ja=label_ja, label_en=label_en,
                             start_time=start, end_time=end, weekday=weekday))
    if spec.kind == FacilityKind.COMMUNITY_CENTER:
        session.add_all([Equipment(facility_id=facility.id, name_ja=name, name_en=name_en, fee_yen=fee, kind=kind)
                         for name, name_en, fee, kind in EQUIPMENT])
    _add_closures(session, facility, spec.maintenance_monday)
    report.add("facilities")
    report.add("rooms", len(spec.rooms))


def _add_closures(session, facility: Facility, maintenance_monday: int | None) -> None:
    today = today_tokyo()
    # 年末年始 (12/29-1/3) of this and next winter; the monthly maintenance Monday its hours name, for six months.
    for year in (today.year - 1, today.year):
        session.add(Closure(facility_id=facility.id, kind=ClosureKind.REGULAR, start_date=date(year, 12, 29),
                            end_date=date(year + 1, 1, 4), reason_ja="年末年始の休館", reason_en="New Year holidays"))
    for i in range(6 if maintenance_monday else 0):
        month_start = (today.replace(day=1) + timedelta(days=32 * i)).replace(day=1)
        monday = _nth_weekday(month_start.year, month_start.month, 0, maintenance_monday)
        session.add(Closure(facility_id=facility.id, kind=ClosureKind.REGULAR, start_date=monday,
                            end_date=monday + timedelta(days=1), reason_ja="設備点検のための休館日",
                            reason_en="Monthly maintenance day"))
    if facility.kind == FacilityKind.COMMUNITY_CENTER:
        day = today + timedelta(days=17)
        session.add(Closure(facility_id=facility.id, kind=ClosureKind.ADMINISTRATIVE, start_date=day,
                            end_date=day + timedelta(days=1), reason_ja="選挙の投票所として使用",
                            reason_en="Used as a polling station"))


@demo_loader("facilities", order=ORDER_FACILITIES)
def load_facilities(session, report: DemoReport) -> None:
    """Facilities with rooms, 時間区分, fees and closures; 減免 rules; the demo staff member's assignment."""
    for spec in FACILITIES:
        if session.scalar(sa.select(Facility.id).where(Facility.name_ja == spec.name_ja)):
            report.exists("facilities")
            continue
        _add_facility(session, spec, report)
    session.flush()
    for kind, percent in REDUCTIONS:
        if session.scalar(sa.select(FeeReduction.id).where(FeeReduction.organization_kind == kind)):
            report.exists("fee reductions")
        else:
            session.add(FeeReduction(organization_kind=kind, percent=percent, requires_verified=True))
            report.add("fee reductions")
    akasaka = session.scalar(sa.select(Facility).where(Facility.name_ja == "赤坂区民センター"))
    staff = session.scalar(sa.select(User).where(User.email == DEMO_ACCOUNTS["facility_staff"].email))
    if staff and akasaka:
        if session.scalar(sa.select(FacilityStaff.id).where(FacilityStaff.user_id == staff.id,
                                                            FacilityStaff.facility_id == akasaka.id)):
            report.exists("facility staff")
        else:
            session.add(FacilityStaff(user_id=staff.id, facility_id=akasaka.id))
            report.add("facility staff")
    if akasaka and staff and not session.scalar(sa.select(LotteryPeriod.id)
                                                .where(LotteryPeriod.facility_id == akasaka.id)):
        _add_lottery(session, akasaka, staff)
        report.add("lottery periods")


def _add_lottery(session, facility: Facility, staff: User) -> None:
    """The 区民ホール's lottery for the month after next: open now for 町会・NPO, other groups and individuals
    later, drawn three weeks before the month, confirmed within a week, leftovers first-come three days later."""
    from datetime import time


    hall = session.scalar(sa.select(Room).where(Room.facility_id == facility.id, Room.name_ja == "区民ホール"))
    today = today_tokyo()
    start = (today.replace(day=1) + timedelta(days=70)).replace(day=1)
    draw = start - timedelta(days=21)
    closes = draw - timedelta(days=1)
    tiers = [lottery_periods.TierSpec([Kind.NEIGHBORHOOD_ASSOCIATION.value, Kind.NPO.value, Kind.VOLUNTEER_GROUP.value],
                                   today - timedelta(days=7), closes),
             lottery_periods.TierSpec([ANY_OTHER], today + timedelta(days=3), closes),
             lottery_periods.TierSpec([INDIVIDUAL], today + timedelta(days=10), closes)]
    lottery_periods.open_period(facility, lottery_periods.PeriodSpec(
        room_id=hall.id if hall else None, month=start, draw_date=draw, confirm_until_on=draw + timedelta(days=7),
        leftovers_open_at=tokyo_to_utc(draw + timedelta(days=10), time(9, 0)), entries_per_group=2,
        max_preferences=3, allow_individuals=True, tiers=tiers), actor=staff)


PURPOSES = ("町会の定例会", "子ども食堂の打合せ", "英会話サークル", "合唱の練習", "防災訓練の準備", "書道教室",
            "高齢者の体操教室", "商店会の役員会", "NPOの勉強会", "地域の写真展の準備")


@demo_loader("bookings", order=ORDER_BOOKINGS)
def load_bookings(session, report: DemoReport) -> None:
    """Bookings by the demo residents over the next 45 days at about 40% fill; one (room, day) at most each."""
    rng = random.Random(20261128)  # noqa: S311 - deterministic demo data
    residents = list(session.scalars(sa.select(User).where(User.email.in_(
        [DEMO_ACCOUNTS[k].email for k in ("resident", "resident2", "resident_en", "resident_easy")]))
        .order_by(User.id)))
    if not residents:
        return
    today = today_tokyo()
    now = utcnow()
    for facility in session.scalars(sa.select(Facility).order_by(Facility.id)).all():
        rooms = list(session.scalars(sa.select(Room).where(Room.facility_id == facility.id).order_by(Room.id)))
        leaf_of = leaves([RoomNode(r.id, r.parent_id, r.hourly) for r in rooms])
        slots = list(session.scalars(sa.select(TimeSlot).where(TimeSlot.facility_id == facility.id,
                                                              TimeSlot.weekday.is_(None))))
        closed = {(c.room_id, d) for c in session.scalars(sa.select(Closure).where(Closure.facility_id == facility.id))
                  for d in (c.start_date + timedelta(days=i) for i in range((c.end_date - c.start_date).days))}
        taken = set(session.execute(sa.select(BookingClaim.room_id, BookingClaim.day, BookingClaim.cell).where(
            BookingClaim.room_id.in_([r.id for r in rooms]))).tuples())
        for offset in range(1, 46):
            day = today + timedelta(days=offset)
            if (None, day) in closed or day.weekday() == 6:
                continue
            for room in rooms:
                # Draw every random value whatever happens next, so that a second run makes the same choices.
                chance, slot, user, purpose = rng.random(), rng.choice(slots), rng.choice(residents), \
                    rng.choice(PURPOSES)
                if room.hourly or chance > 0.4:
                    continue
                if session.scalar(sa.select(Booking.id).where(Booking.room_id == room.id, Booking.day == day)):
                    report.exists("bookings")
                    continue
                start = slot.start_time.hour * 60 + slot.start_time.minute
                end = slot.end_time.hour * 60 + slot.end_time.minute
                wanted = {(leaf, day, c) for leaf in leaf_of[room.id] for c in cells(start, end)}
                if wanted & taken:
                    continue
                fee = session.scalar(sa.select(FeeRate.amount_yen).where(
                    FeeRate.room_id == room.id, FeeRate.slot_code == slot.code,
                    FeeRate.category == UserCategory.RESIDENT)) or 0
                state = BookingState.REQUESTED if room.requires_approval else BookingState.CONFIRMED
                booking = Booking(
                    user_id=user.id, facility_id=facility.id, room_id=room.id, day=day,
                    state=state, category=UserCategory.RESIDENT, purpose=purpose,
                    attendees=max(1, room.capacity // 2), fee_gross_yen=fee, fee_reduction_yen=0, fee_net_yen=fee,
                    created_at=now, confirmed_at=now if state == BookingState.CONFIRMED else None,
                    paid_at=now if state == BookingState.CONFIRMED and fee else None,
                    items=[BookingItem(slot_code=slot.code, label_ja=slot.label_ja, start_minute=start,
                                       end_minute=end, fee_yen=fee)],
                )
                session.add(booking)
                session.flush()
                session.add_all([BookingClaim(booking_id=booking.id, room_id=leaf, day=d, cell=c)
                                 for leaf, d, c in sorted(wanted)])
                taken |= wanted
                report.add("bookings")


SERIES = (  # (facility index, room kind, slot code, purpose, every N weeks, dates, organization kind)
    (0, RoomKind.MEETING, "morning", "高齢者の体操教室(毎週)", 1, 8, OrganizationKind.NEIGHBORHOOD_ASSOCIATION),
    (1, RoomKind.MEETING, "evening", "NPOの勉強会(2週ごと)", 2, 6, OrganizationKind.NPO),
)


@demo_loader("booking_series", order=ORDER_BOOKINGS + 10)
def load_booking_series(session, report: DemoReport) -> None:
    """Weekly series booked at the desk for demo groups (their free dates), with the first resident as contact."""
    contact = session.scalar(sa.select(User).where(User.email == DEMO_ACCOUNTS["resident"].email))
    staff = session.scalar(sa.select(User).where(User.email == DEMO_ACCOUNTS["facility_staff"].email))
    facilities = list(session.scalars(sa.select(Facility).where(Facility.kind == FacilityKind.COMMUNITY_CENTER)
                                      .order_by(Facility.id)))
    if contact is None or staff is None or not facilities:
        return
    for index, room_kind, code, purpose, interval, count, kind in SERIES:
        if session.scalar(sa.select(BookingSeries.id).where(BookingSeries.purpose == purpose)):
            report.exists("booking series")
            continue
        facility = facilities[index % len(facilities)]
        room = session.scalar(sa.select(Room).where(Room.facility_id == facility.id, Room.hourly.is_(False),
                                                    Room.kind == room_kind).order_by(Room.id))
        slot = session.scalar(sa.select(TimeSlot).where(TimeSlot.facility_id == facility.id, TimeSlot.code == code,
                                                        TimeSlot.weekday.is_(None), TimeSlot.on_date.is_(None)))
        group = session.scalar(sa.select(Organization).where(
            Organization.kind == kind, Organization.status == VerificationStatus.VERIFIED).order_by(Organization.id))
        if room is None or slot is None or group is None:
            continue
        first = today_tokyo() + timedelta(days=14)
        try:
            with session.begin_nested():
                series_services.book_series(
                    user=contact, actor=staff, room_id=room.id, first_day=first, interval_weeks=interval, count=count,
                    unit_keys=[f"s{slot.id}"], purpose=purpose, attendees=min(10, room.capacity),
                    category=UserCategory.RESIDENT, organization_id=group.id, skip_conflicts=True)
        except series_services.SeriesConflict:
            continue  # nothing free (a crowded demo database): no series rather than a failed load
        report.add("booking series")
