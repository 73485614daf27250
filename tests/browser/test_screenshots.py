"""The main pages at 375 px (a phone) and 1280 px: nothing wider than the screen; screenshots on request.

`make screenshots` (TSUDOI_SCREENSHOTS=1) saves each page at both widths into docs/screenshots/ (palette PNG,
optimised) for the README; without the flag the test only checks the layout.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.accounts.models import User
from app.bookings.models import Booking
from app.demo.accounts import DEMO_ACCOUNTS
from app.events.models import EventOccurrence, EventSeries, EventStatus, Registration
from app.extensions import db
from app.facilities.models import FacilityStaff, Room
from app.organizations.models import Membership
from tests.browser.conftest import CHROMIUM, DESKTOP, PHONE

pytestmark = pytest.mark.browser

OUT = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
SAVE = os.environ.get("TSUDOI_SCREENSHOTS") == "1"


def _ids(live) -> dict:
    def read():
        facility = db.session.scalar(sa.select(FacilityStaff.facility_id).order_by(FacilityStaff.id).limit(1))
        series = db.session.scalar(sa.select(EventSeries.id).where(EventSeries.status == EventStatus.PUBLISHED)
                                   .where(EventSeries.image_name.is_not(None)).order_by(EventSeries.id).limit(1))
        series = series or db.session.scalar(sa.select(EventSeries.id).where(
            EventSeries.status == EventStatus.PUBLISHED).order_by(EventSeries.id).limit(1))
        room = db.session.scalar(sa.select(Room.id).where(Room.facility_id == facility, Room.parent_id.is_(None))
                                 .order_by(Room.sort_order, Room.id).limit(1))
        occurrence = db.session.scalar(sa.select(EventOccurrence.id).where(EventOccurrence.series_id == series)
                                       .order_by(EventOccurrence.starts_at.desc()).limit(1))
        # the occurrence with the most registrations, and the facility's busiest day: full tables to lay out
        officer = db.session.scalar(sa.select(User.id).where(User.email == DEMO_ACCOUNTS["officer"].email))
        theirs = sa.select(EventSeries.id).join(Membership, Membership.organization_id == EventSeries.organization_id) \
            .where(Membership.user_id == officer)
        registered = db.session.scalar(sa.select(Registration.occurrence_id)
                                       .join(EventOccurrence, EventOccurrence.id == Registration.occurrence_id)
                                       .where(EventOccurrence.series_id.in_(theirs))
                                       .group_by(Registration.occurrence_id)
                                       .order_by(sa.func.count().desc(), Registration.occurrence_id).limit(1))
        busy_day = db.session.scalar(sa.select(Booking.day).where(Booking.facility_id == facility)
                                     .group_by(Booking.day).order_by(sa.func.count().desc(), Booking.day).limit(1))
        return {"facility": facility, "series": series, "room": room, "occurrence": occurrence,
                "registered": registered, "busy_day": busy_day.isoformat() if busy_day else ""}

    return live.run(read)


# (file name, path, who signs in: None or a DEMO_ACCOUNTS key, language)
def _pages(ids: dict) -> list[tuple[str, str, str | None, str]]:
    return [
        ("home", "/", None, "ja"),
        ("home-en", "/", None, "en"),
        ("home-officer", "/", "officer", "ja"),
        ("mypage", "/my/", "resident", "ja"),
        ("manage", "/manage/", "officer", "ja"),
        ("manage-en", "/manage/", "officer", "en"),
        ("desk-workspace", "/desk/", "facility_staff", "ja"),
        ("ward-workspace", "/ward/", "ward_staff", "ja"),
        ("events", "/events/", None, "ja"),
        ("events-easy", "/events/", None, "ja-easy"),
        ("event", f"/events/{ids['series']}", None, "ja"),
        ("event-en", f"/events/{ids['series']}", None, "en"),
        ("facility-en", f"/facilities/{ids['facility']}", None, "en"),
        ("availability", f"/facilities/{ids['facility']}/availability", None, "ja"),
        ("availability-month", f"/facilities/{ids['facility']}/availability?view=month", None, "ja"),
        ("search", "/facilities/search", None, "en"),
        ("indicators", "/indicators", None, "ja"),
        ("booking-form", f"/bookings/new?room={ids['room']}", "resident", "ja"),
        ("my-bookings", "/bookings/mine", "resident", "ja"),
        ("utilization", "/staff/utilization", "ward_staff", "ja"),
        ("staff-indicators", "/staff/indicators", "ward_staff", "ja"),
        ("registrants", f"/events/occurrences/{ids['registered']}/registrations", "officer", "ja"),
        ("desk", f"/bookings/desk/{ids['facility']}?day={ids['busy_day']}", "facility_staff", "ja"),
    ]


# Each visible label of a filter form, and where its control is: the label must sit above its own control, left
# edges aligned (the Digital Agency's form pattern). On a wrapping row a bare label could end one line and its
# control start the next, beside the wrong field ("[すべて] 分類" where that select is 地区).
LABELS_ABOVE_CONTROLS = """() => [...document.querySelectorAll('form.filters label[for]')].flatMap(label => {
  const control = document.getElementById(label.htmlFor);
  const l = label.getBoundingClientRect();
  if (!control || l.width === 0) return [];
  const c = control.getBoundingClientRect();
  const above = l.bottom <= c.top + 2 && c.top - l.bottom < 24;
  const aligned = Math.abs(l.left - c.left) < 4;
  return above && aligned ? [] : [[label.htmlFor, Math.round(l.left), Math.round(l.bottom), Math.round(c.left),
                                   Math.round(c.top)]];
})"""


# Table cells holding text but narrower than two characters of it: Japanese then breaks one character per line.
NARROW_CELLS = """() => [...document.querySelectorAll('main td, main th')].flatMap(cell => {
  const text = cell.innerText.trim();
  const box = cell.getBoundingClientRect();
  if (!text || box.width === 0) return [];
  const style = getComputedStyle(cell);
  const inner = box.width - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
  return inner < 2 * parseFloat(style.fontSize) ? [text.slice(0, 20)] : [];
})"""


def _save(png: bytes, path: Path) -> None:
    """A palette PNG (256 colours, optimised): a tenth of chromium's size, text still crisp."""
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    image.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)


@pytest.mark.parametrize("width", ["phone", "desktop"])
def test_main_pages_fit_the_screen(live, open_context, demo_user, width):
    viewport = PHONE if width == "phone" else DESKTOP
    ids = _ids(live)
    pages: dict[tuple[str | None, str], object] = {}
    too_wide = {}
    misplaced = []
    narrow = {}
    if SAVE:
        OUT.mkdir(parents=True, exist_ok=True)
    for name, path, who, lang in _pages(ids):
        if (who, lang) not in pages:
            pages[who, lang] = demo_user(who, lang, viewport=viewport) if who else open_context(
                lang, viewport=viewport).new_page()
        page = pages[who, lang]
        response = page.goto(path)
        assert response.status == 200, (path, response.status)
        scroll_width = page.evaluate("document.documentElement.scrollWidth")
        if scroll_width > viewport["width"]:
            too_wide[path] = scroll_width
        if page.locator("details.filters-panel").count():
            page.evaluate("document.querySelectorAll('details.filters-panel').forEach(d => d.open = true)")
        misplaced += [(path, *pair) for pair in page.evaluate(LABELS_ABOVE_CONTROLS)]
        if cells := page.evaluate(NARROW_CELLS):
            narrow[path] = cells[:5]
        if SAVE:
            _save(page.screenshot(full_page=False), OUT / f"{name}-{width}.png")
    assert too_wide == {}
    assert misplaced == [], "a filter label is not right above its own control"
    assert narrow == {}, "table cells narrower than two characters: text would break one character per line"


def test_chromium_has_its_japanese_ui():
    """Date inputs follow chromium's UI language: without chromium-l10n's ja.pak they read 11/29/2026 in the
    Japanese pages and screenshots, whatever the context's locale (the browser fixture asks for Japanese)."""
    candidates = [Path(os.path.realpath(CHROMIUM)).parent / "locales", Path("/usr/lib/chromium/locales")]
    folders = [c for c in candidates if c.is_dir()]
    if not folders:
        pytest.skip(f"no locales folder beside {CHROMIUM} (not Debian's chromium)")
    assert any((folder / "ja.pak").exists() for folder in folders), "run `make browser-deps` (chromium-l10n)"
