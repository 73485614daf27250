"""Time: UTC inside, Asia/Tokyo at the edges; fiscal years (年度, April 1 to March 31) and 和暦."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

TOKYO = ZoneInfo("Asia/Tokyo")


def utcnow() -> datetime:
    """The current instant, aware, in UTC."""
    return datetime.now(UTC)


def to_tokyo(instant: datetime) -> datetime:
    """Convert an aware instant to Asia/Tokyo for display or ICS."""
    if instant.tzinfo is None:
        raise ValueError("naive datetime")
    return instant.astimezone(TOKYO)


def hhmm(minute: int) -> str:
    """A minute of the day as 09:30 (時間区分 and booking times are minutes from midnight)."""
    return f"{minute // 60:02d}:{minute % 60:02d}"


def tokyo_day(instant: datetime) -> date:
    """The day in Tokyo of an aware instant."""
    return to_tokyo(instant).date()


def tokyo_to_utc(day: date, at: time) -> datetime:
    """The UTC instant of a wall-clock time in Tokyo (input parsing)."""
    return datetime.combine(day, at, tzinfo=TOKYO).astimezone(UTC)


def today_tokyo() -> date:
    """Today's date in Tokyo."""
    return utcnow().astimezone(TOKYO).date()


def fiscal_year(value: date | datetime) -> int:
    """The fiscal year (年度) a day or instant belongs to, named by its starting western year.

    Instants are judged in Asia/Tokyo: 2027-03-31 23:59 JST is in 2026, 2027-04-01 00:00 JST in 2027.
    """
    if isinstance(value, datetime):
        value = to_tokyo(value).date()
    return value.year if value.month >= 4 else value.year - 1


@dataclass(frozen=True)
class FiscalYear:
    """A fiscal year as a half-open range of days and of instants."""

    year: int

    @property
    def first_day(self) -> date:
        return date(self.year, 4, 1)

    @property
    def end_day(self) -> date:
        """The first day after the year (exclusive bound)."""
        return date(self.year + 1, 4, 1)

    @property
    def start_at(self) -> datetime:
        return tokyo_to_utc(self.first_day, time())

    @property
    def end_at(self) -> datetime:
        return tokyo_to_utc(self.end_day, time())

    def contains(self, value: date | datetime) -> bool:
        return fiscal_year(value) == self.year


# Eras in use for dates the app shows (start day inclusive). Older eras are not needed for this domain.
_ERAS: tuple[tuple[date, str, str], ...] = (
    (date(2019, 5, 1), "令和", "Reiwa"),
    (date(1989, 1, 8), "平成", "Heisei"),
    (date(1926, 12, 25), "昭和", "Showa"),
)


def _era(value: date) -> tuple[str, str, int]:
    for start, name, romaji in _ERAS:
        if value >= start:
            return name, romaji, value.year - start.year + 1
    raise ValueError(f"no era known for {value}")


def wareki_year(value: date) -> tuple[str, int]:
    """The Japanese era name and year number for a day, e.g. (令和, 8) for 2026-11-28."""
    name, _romaji, number = _era(value)
    return name, number


def _label(value: date, *, romaji: bool, fiscal: bool) -> str:
    name, roman, number = _era(value)
    if romaji:
        # English readers know the eras by their romaji names; 元年 is simply year 1 there.
        return f"{roman} {number}"
    return f"{name}{'元' if number == 1 else number}年{'度' if fiscal else ''}"


def format_wareki(value: date, *, romaji: bool = False) -> str:
    """The era year of a given day: '平成31年' for 2019-04-30, '令和元年' for 2019-05-01 ('Reiwa 1' in romaji)."""
    return _label(value, romaji=romaji, fiscal=False)


def format_wareki_year(year: int, *, fiscal: bool = False, romaji: bool = False) -> str:
    """'令和8年' for a western year (or '令和8年度' for a fiscal year); 元年 for the first year of an era."""
    # Years are named by the era in force on December 31, fiscal years too: the ward calls FY2019 令和元年度
    # (the era changed on 2019-05-01, a month into it) and FY1988 was 昭和63年度 though it ended in 平成.
    return _label(date(year, 12, 31), romaji=romaji, fiscal=fiscal)


def days(start: date, end: date):
    """Each day in the half-open range [start, end)."""
    current = start
    while current < end:
        yield current
        current += timedelta(days=1)
