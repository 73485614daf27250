"""Public events: SIZE occurrences (default 50,000) in SIZE/25 series, 4 registrations per occurrence on average.

Routes: the public list, this month's calendar and the ward-wide ICS feed (its window: 7 days back to 90 days
ahead, at most 2,000 occurrences, the earliest first; served from the feed cache once built). Occurrences run
from 180 days ago to a year ahead; registrations are guests (no user rows needed), mostly confirmed, some
waitlisted or cancelled.
"""

from __future__ import annotations

import random
from datetime import time, timedelta

import sqlalchemy as sa

from bench.scenarios import Route, chunks

DEFAULT_SIZE = 50_000
OCCURRENCES_PER_SERIES = 25
REGISTRATIONS_PER_OCCURRENCE = 4  # 200,000 for the default size
ORGANIZATIONS = 120
PAST_DAYS, FUTURE_DAYS = 180, 365
TITLES = ("盆踊り大会", "防災訓練", "日本語教室", "商店街まつり", "まち歩きツアー", "子ども食堂", "健康体操",
          "国際交流カフェ", "清掃活動", "区民参画ワークショップ", "大学連携講座", "写真展")


def generate(app, size: int) -> None:
    """Groups, series, occurrences and registrations with core inserts (chunks of 5,000 rows)."""
    from app.core.districts import District
    from app.core.time import utcnow
    from app.events.models import (
        Audience,
        EventAudience,
        EventCategory,
        EventOccurrence,
        EventSeries,
        EventStatus,
        Frequency,
        OccurrenceStatus,
        Registration,
        RegistrationStatus,
    )
    from app.extensions import db
    from app.organizations.models import Organization, OrganizationKind, VerificationStatus

    rng = random.Random(2026)
    now = utcnow().replace(microsecond=0)
    districts, categories, kinds = list(District), list(EventCategory), list(OrganizationKind)
    db.session.execute(sa.insert(Organization), [{
        "id": n + 1, "kind": kinds[n % len(kinds)], "district": districts[n % len(districts)],
        "name_ja": f"ベンチ団体{n + 1}", "status": VerificationStatus.VERIFIED, "verified_at": now,
        "verified_until": (now + timedelta(days=365)).date(), "created_at": now, "updated_at": now,
    } for n in range(ORGANIZATIONS)])

    series_count = max(size // OCCURRENCES_PER_SERIES, 1)
    series_rows, audience_rows = [], []
    for s in range(series_count):
        title = f"{TITLES[s % len(TITLES)]} 第{s + 1}回"
        start = time(rng.choice((9, 10, 13, 14, 18)), rng.choice((0, 30)))
        series_rows.append({
            "id": s + 1, "organization_id": s % ORGANIZATIONS + 1, "title_ja": title,
            "summary_ja": f"{title}のお知らせです。どなたでも参加できます。", "search_text": title.lower(),
            "category": categories[s % len(categories)], "district": districts[s % len(districts)],
            "venue_name": "ベンチ区民センター", "venue_address": "港区芝公園1-1", "fee_yen": rng.choice((0, 0, 300)),
            "registration_required": True, "wheelchair_accessible": s % 3 == 0, "sign_language": False,
            "captions": False, "childcare": s % 7 == 0, "no_smoking": True, "foreign_languages": "en" if s % 4 else "",
            "frequency": Frequency.DATES, "recurrence": {}, "start_time": start,
            "end_time": time(start.hour + 2, start.minute), "status": EventStatus.PUBLISHED, "published_at": now,
            "created_at": now, "updated_at": now,
        })
        audience_rows.append({"series_id": s + 1, "audience": list(Audience)[s % len(Audience)]})
    for batch in chunks(series_rows):
        db.session.execute(sa.insert(EventSeries), batch)
    db.session.execute(sa.insert(EventAudience), audience_rows)

    span_hours = (PAST_DAYS + FUTURE_DAYS) * 24
    occurrence_rows = []
    for n in range(size):
        starts = now - timedelta(days=PAST_DAYS) + timedelta(hours=rng.randrange(span_hours))
        occurrence_rows.append({
            "id": n + 1, "series_id": n % series_count + 1, "starts_at": starts,
            "ends_at": starts + timedelta(hours=2), "capacity": rng.choice((None, 10, 20, 50)),
            "status": OccurrenceStatus.CANCELLED if n % 50 == 0 else OccurrenceStatus.SCHEDULED,
            "sequence": 0, "created_at": now, "updated_at": now,
        })
    for batch in chunks(occurrence_rows):
        db.session.execute(sa.insert(EventOccurrence), batch)

    statuses = [RegistrationStatus.CONFIRMED] * 8 + [RegistrationStatus.WAITLISTED, RegistrationStatus.CANCELLED]

    def registrations():
        for n in range(size * REGISTRATIONS_PER_OCCURRENCE):
            yield {"occurrence_id": n % size + 1, "guest_email": f"guest{n}@example.jp", "guest_name": f"参加者{n}",
                   "guest_language": "ja", "status": statuses[n % len(statuses)], "queued_at": now,
                   "created_at": now, "updated_at": now}

    for batch in chunks(registrations()):
        db.session.execute(sa.insert(Registration), batch)
    # Planner statistics, as a database that has lived a while has them (autovacuum); allowed in a transaction.
    db.session.execute(sa.text("ANALYZE"))


def routes(app) -> list[Route]:
    """The list, this month's calendar (month computed at run time) and the ward-wide feed."""
    from app.core.time import today_tokyo

    month = today_tokyo().strftime("%Y-%m")
    return [
        Route("/events/", label="/events/ (list)"),
        Route(f"/events/calendar?month={month}", label="/events/calendar (this month)"),
        Route("/events/feed.ics", label="/events/feed.ics (ward-wide)"),
    ]
