"""Demo events: a year of realistic Minato events (festivals, 防災訓練, 日本語教室, 商店街 events, まち歩き ...)
by the demo organizations, with occurrences from two months ago to ten months ahead and registrations by the
demo residents (some events full, with a waitlist)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, time, timedelta

import sqlalchemy as sa

from app.accounts.models import User
from app.core.time import today_tokyo, tokyo_to_utc, utcnow
from app.demo.accounts import DEMO_ACCOUNTS
from app.demo.loaders import ORDER_EVENTS, DemoReport, demo_loader
from app.events import recurrence
from app.events.models import (
    Audience,
    EventAudience,
    EventCategory,
    EventOccurrence,
    EventPartner,
    EventSeries,
    EventStatus,
    Frequency,
    OccurrenceStatus,
    Registration,
    RegistrationStatus,
    WardRelation,
    search_key,
)
from app.organizations.models import Organization

C = EventCategory
A = Audience
F = Frequency


@dataclass(frozen=True)
class DemoEventSpec:
    """A demo series; (organizer name_ja, title_ja) is its natural key. Days are offsets from today."""

    organizer: str
    title_ja: str
    title_en: str | None
    title_easy: str | None
    summary_ja: str
    category: EventCategory
    frequency: Frequency
    start: time
    end: time
    first_offset: int
    until_offset: int | None = None
    nth: int | None = None
    extra_offsets: tuple[int, ...] = ()
    capacity: int | None = None
    fee_yen: int = 0
    venue_name: str = ""
    venue_address: str = ""
    audiences: tuple[Audience, ...] = ()
    partners: tuple[str, ...] = ()
    access: tuple[str, ...] = ()
    languages: str = ""
    registration_required: bool = True
    cancelled_reason: str | None = None
    ward_relation: WardRelation | None = None  # the mark ward staff gave it (P09-05-1 counts the marked events)
    extra: dict = field(default_factory=dict)


EVENTS: tuple[DemoEventSpec, ...] = (
    DemoEventSpec("赤坂六丁目町会", "赤坂六丁目 防災訓練", "Akasaka 6-chome Disaster Drill", "ぼうさい くんれん",
                  "起震車体験、消火器の使い方、AEDの講習を行います。", C.SAFETY, F.DATES, time(9, 30), time(12, 0),
                  -45, extra_offsets=(-45, 40, 130, 220), capacity=60, venue_name="赤坂氷川公園",
                  venue_address="港区赤坂6-10", audiences=(A.FIRST_TIMERS, A.SENIORS),
                  partners=("赤坂伝統芸能保存会",), access=("wheelchair_accessible",)),
    DemoEventSpec("赤坂六丁目町会", "赤坂六丁目 盆踊り大会", "Akasaka Bon Dance Festival", "ぼんおどり",
                  "夏の夜、やぐらを囲んで踊りましょう。屋台も出ます。", C.COMMUNITY, F.ONCE, time(17, 0), time(21, 0),
                  250, venue_name="赤坂氷川公園", venue_address="港区赤坂6-10", audiences=(A.CHILDREN, A.PARENTS),
                  registration_required=False, access=("no_smoking",), ward_relation=WardRelation.COLLABORATION),
    DemoEventSpec("麻布十番商店街振興組合", "麻布十番 商店街スタンプラリー", "Azabu-Juban Stamp Rally", None,
                  "加盟店を回ってスタンプを集めると、抽選で商品券が当たります。", C.SHOPPING_STREET,
                  F.MONTHLY_NTH_WEEKDAY, time(11, 0), time(17, 0), 3, until_offset=300, nth=3, capacity=None,
                  venue_name="麻布十番商店街", venue_address="港区麻布十番1・2丁目", audiences=(A.PARENTS,),
                  registration_required=False, languages="en"),
    DemoEventSpec("麻布十番商店街振興組合", "麻布十番 納涼まつり", "Azabu-Juban Summer Festival", "なつまつり",
                  "全国の名物屋台が並ぶ夏の大きなお祭りです。", C.SHOPPING_STREET, F.DATES, time(15, 0), time(21, 0),
                  265, extra_offsets=(265, 266), venue_name="麻布十番商店街", venue_address="港区麻布十番",
                  registration_required=False, partners=("麻布国際交流の会",), languages="en,zh"),
    DemoEventSpec("麻布国際交流の会", "はじめての日本語教室", "Japanese Class for Beginners", "にほんご きょうしつ",
                  "やさしい日本語で、買い物や病院で使う日本語を練習します。", C.JAPANESE_LEARNING, F.WEEKLY,
                  time(10, 0), time(11, 30), -56, until_offset=300, capacity=3, venue_name="麻布区民センター 会議室",
                  venue_address="港区六本木5-16-45", audiences=(A.FOREIGN_RESIDENTS, A.FIRST_TIMERS),
                  languages="en,zh,ko", access=("childcare",), ward_relation=WardRelation.COLLABORATION),
    DemoEventSpec("麻布国際交流の会", "国際交流パーティー", "International Friendship Party", "こくさい こうりゅう",
                  "いろいろな国の人と料理を楽しみながら話しましょう。", C.INTERNATIONAL, F.DATES, time(18, 0),
                  time(20, 30), 20, extra_offsets=(20, 110, 200), capacity=40, fee_yen=1000,
                  venue_name="麻布区民センター ホール", venue_address="港区六本木5-16-45",
                  audiences=(A.FOREIGN_RESIDENTS, A.YOUTH), languages="en"),
    DemoEventSpec("NPO法人 赤坂こども食堂ネットワーク", "赤坂こども食堂", "Akasaka Children's Cafeteria",
                  "こども しょくどう",
                  "こどもは無料、おとなは300円。みんなで晩ごはんを食べましょう。", C.CHILDREN, F.BIWEEKLY,
                  time(17, 0), time(19, 0), -60, until_offset=300, capacity=4, fee_yen=0,
                  venue_name="赤坂区民センター 調理室", venue_address="港区赤坂4-18-13",
                  audiences=(A.CHILDREN, A.PARENTS), access=("wheelchair_accessible", "no_smoking"),
                  ward_relation=WardRelation.SUPPORT),
    DemoEventSpec("赤坂伝統芸能保存会", "赤坂 邦楽と日本舞踊の夕べ", "Evening of Japanese Music and Dance", None,
                  "長唄と日本舞踊を間近で鑑賞できます。", C.CULTURE_ARTS, F.ONCE, time(18, 30), time(20, 30), 75,
                  capacity=80, fee_yen=500, venue_name="赤坂区民センター 区民ホール",
                  venue_address="港区赤坂4-18-13", audiences=(A.SENIORS,),
                  access=("wheelchair_accessible", "sign_language")),
    DemoEventSpec("高輪二丁目町会", "高輪 歴史まち歩き", "Takanawa History Walk", "れきし まちあるき",
                  "泉岳寺から高輪大木戸跡まで、ガイドと歩きます。", C.TOURISM, F.MONTHLY_NTH_WEEKDAY, time(10, 0),
                  time(12, 0), -50, until_offset=300, nth=2, capacity=3, venue_name="泉岳寺 山門前集合",
                  venue_address="港区高輪2-11-1", audiences=(A.SENIORS, A.FIRST_TIMERS), languages="en"),
    DemoEventSpec("高輪学院大学 地域連携センター", "大学公開講座 港区の防災とまちづくり", "Open Lecture: Disaster "
                  "Preparedness", None, "大学の教員が港区の防災について話します。", C.UNIVERSITY, F.WEEKLY,
                  time(19, 0), time(20, 30), 30, until_offset=58, capacity=50, venue_name="高輪学院大学 3号館",
                  venue_address="港区高輪", audiences=(A.YOUTH,), partners=("高輪二丁目町会",),
                  access=("captions",)),
    DemoEventSpec("芝公園ボランティアの会", "芝公園 クリーンアップ", "Shiba Park Clean-up", "こうえん そうじ",
                  "公園のごみ拾いをします。軍手とごみ袋はこちらで用意します。", C.SAFETY, F.MONTHLY_NTH_WEEKDAY,
                  time(9, 0), time(10, 30), -40, until_offset=300, nth=1, capacity=None,
                  venue_name="芝公園 集合は正面入口", venue_address="港区芝公園", audiences=(A.FIRST_TIMERS,)),
    DemoEventSpec("芝浦港南 防災ボランティア隊", "芝浦港南 マンション防災訓練", "Condominium Disaster Drill",
                  "マンション ぼうさい", "高層マンションでの在宅避難の備えを学びます。", C.SAFETY, F.DATES,
                  time(10, 0), time(12, 0), 15, extra_offsets=(15, 180), capacity=30,
                  venue_name="芝浦港南区民センター", venue_address="港区港南3-3-7",
                  audiences=(A.PARENTS, A.SENIORS, A.FOREIGN_RESIDENTS), languages="en"),
    DemoEventSpec("港区 産業・地域振興支援部 地域振興課", "区民参画会議(地域のこれからを話そう)", "Residents' "
                  "Participation Meeting", None, "地域の課題について区民と区が話し合います。", C.PARTICIPATION,
                  F.MONTHLY_NTH_WEEKDAY, time(18, 30), time(20, 30), -30, until_offset=300, nth=4, capacity=25,
                  venue_name="港区役所 9階会議室", venue_address="港区芝公園1-5-25", access=("captions",)),
    DemoEventSpec("NPO法人 芝浦運河まちづくり協議会", "運河クルーズで知る芝浦", "Shibaura Canal Cruise", None,
                  "船に乗って運河から芝浦の歴史と今を見ます。", C.KNOW_THE_AREA, F.DATES, time(13, 0), time(15, 0),
                  50, extra_offsets=(50, 57, 160), capacity=12, fee_yen=800, venue_name="芝浦運河 船着場",
                  venue_address="港区芝浦", cancelled_reason=None),
    DemoEventSpec("港区民合唱団「みなとの風」", "みなとの風 冬のコンサート", "Winter Concert", None,
                  "区民合唱団による冬の定期演奏会です。", C.CULTURE_ARTS, F.ONCE, time(14, 0), time(16, 0), 22,
                  capacity=200, venue_name="赤坂区民センター 区民ホール", venue_address="港区赤坂4-18-13",
                  cancelled_reason="会場設備の故障のため中止します。申し訳ありません。"),
)

RESIDENT_KEYS = ("resident", "resident2", "resident_en", "resident_easy")


def _days(spec: DemoEventSpec, today: date) -> list[date]:
    first = today + timedelta(days=spec.first_offset)
    kind = recurrence.Kind(spec.frequency.value)
    if kind == recurrence.Kind.DATES:
        rule = recurrence.Rule(kind=kind, first=first,
                               dates=tuple(today + timedelta(days=o) for o in spec.extra_offsets))
    else:
        rule = recurrence.Rule(kind=kind, first=first,
                               until=today + timedelta(days=spec.until_offset) if spec.until_offset else None,
                               nth=spec.nth, weekday=first.weekday() if spec.nth else None)
    return recurrence.expand(rule)


@demo_loader("events", order=ORDER_EVENTS)
def load_events(session, report: DemoReport) -> None:
    """Create the missing demo series (by organizer and title) with occurrences and registrations."""
    organizations = {o.name_ja: o for o in session.scalars(sa.select(Organization))}
    emails = [DEMO_ACCOUNTS[key].email for key in RESIDENT_KEYS if key in DEMO_ACCOUNTS]
    residents = list(session.scalars(sa.select(User).where(User.email.in_(emails)).order_by(User.email)))
    today = today_tokyo()
    rng = random.Random(20261128)  # noqa: S311 - demo data, deterministic
    for spec in EVENTS:
        organizer = organizations.get(spec.organizer)
        if organizer is None:
            continue
        exists = session.scalar(sa.select(EventSeries.id).where(EventSeries.organization_id == organizer.id,
                                                                 EventSeries.title_ja == spec.title_ja))
        if exists is not None:
            report.exists("event series")
            continue
        days = _days(spec, today)
        first = days[0]
        series = EventSeries(
            organization_id=organizer.id, title_ja=spec.title_ja, title_en=spec.title_en, title_easy=spec.title_easy,
            summary_ja=spec.summary_ja, description_ja=spec.summary_ja, category=spec.category,
            district=organizer.district, venue_name=spec.venue_name or None, venue_address=spec.venue_address or None,
            fee_yen=spec.fee_yen, registration_required=spec.registration_required,
            foreign_languages=spec.languages, frequency=spec.frequency, start_time=spec.start, end_time=spec.end,
            recurrence={"kind": spec.frequency.value, "first": first.isoformat(),
                        "until": days[-1].isoformat() if spec.frequency not in (F.ONCE, F.DATES) else None,
                        "nth": spec.nth,
                        "weekday": first.weekday() if spec.nth else None,
                        "dates": [d.isoformat() for d in days] if spec.frequency == F.DATES else []},
            status=EventStatus.CANCELLED if spec.cancelled_reason else EventStatus.PUBLISHED,
            cancel_reason=spec.cancelled_reason, contact_email=organizer.public_email, published_at=utcnow(),
            ward_relation=spec.ward_relation,
            **{name: True for name in spec.access},
        )
        series.search_text = search_key(" ".join(v for v in (spec.title_ja, spec.title_en, spec.title_easy,
                                                              spec.summary_ja) if v))
        series.audience_rows = [EventAudience(audience=a) for a in spec.audiences]
        series.partner_rows = [EventPartner(organization_id=organizations[p].id) for p in spec.partners
                               if p in organizations]
        for day in days:
            series.occurrences.append(EventOccurrence(
                starts_at=tokyo_to_utc(day, spec.start), ends_at=tokyo_to_utc(day, spec.end), capacity=spec.capacity,
                status=OccurrenceStatus.CANCELLED if spec.cancelled_reason else OccurrenceStatus.SCHEDULED,
                sequence=1 if spec.cancelled_reason else 0))
        session.add(series)
        session.flush()
        report.add("event series")
        report.add("event occurrences", len(days))
        if not spec.registration_required:
            continue
        rows = []
        for occurrence in series.occurrences:
            people = rng.sample(residents, k=rng.randint(0, len(residents))) if residents else []
            for index, person in enumerate(people):
                full = occurrence.capacity is not None and index >= occurrence.capacity
                rows.append({"occurrence_id": occurrence.id, "user_id": person.id,
                             "status": RegistrationStatus.WAITLISTED if full else RegistrationStatus.CONFIRMED,
                             "queued_at": occurrence.starts_at - timedelta(days=10, minutes=-index)})
        if rows:
            session.execute(sa.insert(Registration), rows)
            report.add("event registrations", len(rows))
