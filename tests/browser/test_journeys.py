"""The journeys of issue 8 in a real browser, in 日本語, English and やさしい日本語.

Each journey starts at the home page (`page.goto("/")`) and clicks its way through: the header's sections and role
menus, the workspace pages, links, buttons and forms, as a person does; no inner address is typed in (the only one
opened directly is the confirmation link of the sign-up e-mail, which comes from the mail, not from the site).
Fields, buttons and links are found by name, form action or href (labels differ per language, and new labels may
not be translated yet); each step checks the page is in the chosen language by its title, read from the catalogs
(furigana removed, as browsers show titles).
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from app.accounts import services as account_services
from app.bookings.models import Booking, BookingState
from app.core.permissions import Role
from app.core.time import today_tokyo, utcnow
from app.demo.accounts import DEMO_ACCOUNTS
from app.events.models import EventOccurrence, EventSeries
from app.extensions import db
from app.facilities.models import FacilityStaff
from app.organizations.models import Organization
from tests.browser.conftest import LANGS, PHONE, expect_message, run_axe, with_axe

pytestmark = pytest.mark.browser

PASSWORD = "Browser-Minato-Journey-2026"  # noqa: S105
CONFIRM_LINK = re.compile(r"https?://[^\s/]+(/account/confirm/[^\s]+)")


def _slug(lang: str) -> str:
    return lang.replace("-", "")


def _account(live, email: str, lang: str, name: str) -> None:
    """A confirmed resident made directly in the database (journeys that are not about signing up)."""
    def create():
        user = account_services.create_user(email=email, password=PASSWORD, display_name=name, role=Role.RESIDENT)
        user.preferred_language = lang

    live.run(create)


def _facility_id(live) -> int:
    return live.run(lambda: db.session.scalar(sa.select(FacilityStaff.facility_id).order_by(FacilityStaff.id)))


def _booking(live, booking_id: int) -> tuple[BookingState, bool]:
    return live.run(lambda: (lambda b: (b.state, bool(b.late_cancellation)))(db.session.get(Booking, booking_id)))


def _free_cell_href(page) -> str:
    """The first free (○) slot link of the grid."""
    link = page.locator("li.avail-free a").first
    expect(link).to_be_visible()
    return link.get_attribute("href")


# ---------------------------------------------------------------- moving around by the header


def _header(page, *, phone: bool = False):
    """The header's navigation as shown: inline on a wide screen, or the ☰ disclosure (opened here) on a phone."""
    if not phone:
        return page.locator(".nav-desktop")
    menu = page.locator("details.nav-phone")
    if menu.get_attribute("open") is None:
        menu.locator("> summary").click()
    return menu


def _menu(page, key: str, href: str, *, phone: bool = False) -> None:
    """Open the header's role menu KEY (mine, manage, desk, ward) and follow its link to HREF."""
    where = "phone" if phone else "desktop"
    menu = _header(page, phone=phone).locator(f"details#menu-{key}-{where}")
    if menu.get_attribute("open") is None:
        menu.locator("> summary").click()
    menu.locator(f"a[href='{href}']").first.click()


def _log_in(page, email: str, password: str = PASSWORD, *, phone: bool = False) -> None:
    """Sign in by the header's ログイン link and the login form (fields by name)."""
    _header(page, phone=phone).locator("a[href='/account/login']").click()
    _fill_login(page, email, password)


def _fill_login(page, email: str, password: str = PASSWORD) -> None:
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(lambda url: "/account/login" not in url)


def _pick_language(page, lang: str) -> None:
    """Signing in brings the account's own language back; the person then picks LANG in the switcher."""
    page.locator(f".language-switcher button[value='{lang}']").click()
    expect(page.locator(f".language-switcher button[value='{lang}']")).to_have_attribute("aria-current", "true")


def _to_grid(page, facility_id: int, weeks_ahead: int) -> None:
    """施設の予約 → the facility's availability grid → 次へ WEEKS_AHEAD times."""
    _header(page).locator("a[href='/facilities/']").click()
    page.locator(f"main a[href='/facilities/{facility_id}/availability']").first.click()
    for _ in range(weeks_ahead):
        following = page.locator(".grid-nav a").nth(1)  # 前へ, 次へ, 月で表示
        href = following.get_attribute("href")
        following.click()
        page.wait_for_url(lambda url, href=href: url.endswith(href))


# ---------------------------------------------------------------- resident: sign up, book, .ics, undo


@pytest.mark.parametrize("lang", LANGS)
def test_resident_signs_up_books_a_room_downloads_the_ics_and_undoes(live, open_context, lang):
    email = f"booker-{_slug(lang)}@example.jp"
    page = with_axe(open_context(lang)).new_page()

    page.goto("/")
    _header(page).locator("a[href='/account/signup']").click()
    expect(page).to_have_title(live.title_re(lang, "新規登録"))
    page.fill("input[name=email]", email)
    page.fill("input[name=display_name]", f"Booker {lang}")
    page.fill("input[name=password]", PASSWORD)
    page.fill("input[name=password_confirm]", PASSWORD)
    page.select_option("select[name=language]", lang)
    page.locator("main form button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/account/signup/sent$"))

    # The confirmation e-mail, written by the live server to its outbox, in the chosen language; its link is
    # opened as a mail program opens it (the one address of this file not reached from the site itself).
    mails = live.mails_to(email)
    assert len(mails) == 1
    subject, body = mails[0]
    assert subject == live.t(lang, "【つどい】メールアドレスの確認")
    page.goto(CONFIRM_LINK.search(body).group(1))
    page.locator("main form button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/account/login"))
    expect_message(live, lang, page.locator(".flash-success"), "メールアドレスを確認しました。ログインしてください。")
    _fill_login(page, email)  # the login form the confirmation leads to

    # 施設の予約 → the facility's grid, a week ahead → a free room → the form.
    _to_grid(page, _facility_id(live), weeks_ahead=1)
    expect(page).to_have_title(live.title_re(lang, "空き状況"))
    page.locator("li.avail-free a").first.click()
    expect(page).to_have_title(live.title_re(lang, "部屋の予約"))
    page.locator("input[name=units]").first.check()
    page.fill("input[name=purpose]", "Browser test meeting")
    page.fill("input[name=attendees]", "5")
    page.locator("main form[method=post] button[type=submit]").click()  # the fee and the rules first
    expect(page.locator("#quote-heading")).to_be_visible()
    assert run_axe(page) == []
    page.locator("main form[method=post] button[type=submit]").click()  # then book
    expect(page).to_have_url(re.compile(r"/bookings/\d+$"))
    expect(page).to_have_title(live.title_re(lang, "予約の内容"))
    booking_id = int(page.url.rsplit("/", 1)[1])
    assert _booking(live, booking_id)[0] in (BookingState.CONFIRMED, BookingState.TENTATIVE)

    # マイページ → わたしの予約: the private calendar feed (.ics).
    _menu(page, "mine", "/bookings/mine")
    expect(page).to_have_title(live.title_re(lang, "わたしの予約"))
    with page.expect_download() as download_info:
        page.locator("a[download][href*='/bookings/feed/']").click()
    ics = Path(download_info.value.path()).read_text(encoding="utf-8")
    assert ics.startswith("BEGIN:VCALENDAR")
    assert ics.count("BEGIN:VEVENT") == 1
    assert "Browser test meeting" in ics or f"booking-{booking_id}" in ics

    # The booking from the list, then undo within 15 minutes: no penalty.
    page.locator(f"main a[href='/bookings/{booking_id}']").first.click()
    page.locator(f"a[href$='/bookings/{booking_id}/cancel']").click()
    expect(page).to_have_title(live.title_re(lang, "予約の取消し"))
    expect_message(live, lang, page.locator("main [role=status]"),
                   "予約してから%(n)s分以内なので、影響なく取り消せます。", n=15)
    page.locator(f"form[action$='/bookings/{booking_id}/cancel'] button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/bookings/mine$"))
    expect_message(live, lang, page.locator(".flash-success"), "予約を取り消しました。")
    assert _booking(live, booking_id) == (BookingState.CANCELLED, False)


# ---------------------------------------------------------------- the same booking by keyboard only


def _tab_to(page, selector: str, *, limit: int = 400) -> None:
    """Press Tab until the focused element matches SELECTOR (as a keyboard user moves through the page)."""
    for _ in range(limit):
        if page.evaluate("s => document.activeElement && document.activeElement.matches(s)", selector):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached {selector} on {page.url}")


def _follow(page, selector: str) -> None:
    """Tab to the link SELECTOR and press Enter; wait for the page it opens."""
    _tab_to(page, selector)
    with page.expect_navigation():
        page.keyboard.press("Enter")


def test_booking_by_keyboard_only(live, open_context):
    lang = "ja"
    email = "keyboard@example.jp"
    _account(live, email, lang, "キーボード利用者")
    page = open_context(lang).new_page()

    page.goto("/")
    _follow(page, ".nav-desktop a[href='/account/login']")
    _tab_to(page, "input[name=email]")
    page.keyboard.type(email)
    _tab_to(page, "input[name=password]")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page).not_to_have_url(re.compile(r"/account/login"))

    # 施設の予約 → the facility's grid → 次へ twice (a fortnight ahead), each by Tab and Enter.
    facility_id = _facility_id(live)
    _follow(page, ".nav-desktop a[href='/facilities/']")
    _follow(page, f"main a[href='/facilities/{facility_id}/availability']")
    for _ in range(2):
        _follow(page, f".grid-nav a[href='{page.locator('.grid-nav a').nth(1).get_attribute('href')}']")
    # On the grid, the skip link first, then Tab to a free slot.
    page.keyboard.press("Tab")
    expect(page.locator(".skip-link")).to_be_focused()
    page.keyboard.press("Enter")  # skip to the main content
    href = _free_cell_href(page)
    _tab_to(page, f"li.avail-free a[href='{href}']")
    page.keyboard.press("Enter")
    expect(page).to_have_title(live.title_re(lang, "部屋の予約"))

    # The cell's 時間区分 comes ticked (the link carries it); the units still answer the keyboard: Space on the
    # focused one (Tab skips taken, disabled ones) toggles it, and again back.
    expect(page.locator("input[name=units]:checked")).to_have_count(1)
    _tab_to(page, "input[name=units]")
    focused = page.locator("input[name=units]:focus")
    was_checked = focused.is_checked()
    page.keyboard.press("Space")
    expect(focused).to_be_checked(checked=not was_checked)
    page.keyboard.press("Space")
    expect(focused).to_be_checked(checked=was_checked)
    expect(page.locator("input[name=units]:checked")).to_have_count(1)
    _tab_to(page, "input[name=purpose]")
    page.keyboard.type("キーボードだけで予約")
    _tab_to(page, "input[name=attendees]")
    page.keyboard.type("3")
    _tab_to(page, "main form[method=post] button[type=submit]")
    page.keyboard.press("Enter")
    expect(page.locator("#quote-heading")).to_be_visible()
    _tab_to(page, "main form[method=post] button[type=submit]")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/bookings/\d+$"))
    booking_id = int(page.url.rsplit("/", 1)[1])
    expect_message(live, lang, page.locator(".flash-success"), "予約を受け付けました。")

    _tab_to(page, f"a[href$='/bookings/{booking_id}/cancel']")
    page.keyboard.press("Enter")
    expect(page).to_have_title(live.title_re(lang, "予約の取消し"))
    _tab_to(page, f"form[action$='/bookings/{booking_id}/cancel'] button[type=submit]")
    page.keyboard.press("Space")
    expect(page).to_have_url(re.compile(r"/bookings/mine$"))
    assert _booking(live, booking_id) == (BookingState.CANCELLED, False)


# ---------------------------------------------------------------- group, event, door, report, indicator


def _participants(page, code: str) -> int:
    """The participant sum for indicator CODE (0 when the row is absent): 区の業務 → 参加者数の集計."""
    _menu(page, "ward", "/ward/")
    page.locator("main a[href='/participation/staff/participants']").first.click()
    row = page.locator("table").first.locator("tbody tr", has_text=code)
    if not row.count():
        return 0
    return int(row.first.locator("td").nth(1).inner_text().replace(",", "").strip())


@pytest.mark.parametrize("lang", LANGS)
def test_group_event_checkin_report_and_indicator(live, open_context, demo_user, lang):
    slug = _slug(lang)
    officer_email, resident_email = f"officer-{slug}@example.jp", f"attendee-{slug}@example.jp"
    _account(live, officer_email, lang, f"Officer {lang}")
    _account(live, resident_email, lang, f"Attendee {lang}")
    group_name = f"ブラウザ防災会 {slug}"
    title = f"防災まち歩き {slug}"

    # An officer registers the group: 団体 → 団体を登録する.
    officer = with_axe(open_context(lang)).new_page()
    officer.goto("/")
    _log_in(officer, officer_email)
    _header(officer).locator("a[href='/organizations/']").click()
    officer.locator("main a[href='/organizations/new']").first.click()
    expect(officer).to_have_title(live.title_re(lang, "団体を登録する"))
    officer.select_option("select[name=kind]", "neighborhood_association")
    officer.select_option("select[name=district]", "akasaka")
    officer.fill("input[name=name_ja]", group_name)
    officer.fill("input[name=contact_name]", "担当 太郎")
    officer.fill("input[name=member_count]", "40")
    officer.locator("main form button[type=submit]").click()
    expect(officer).to_have_url(re.compile(r"/organizations/\d+$"))
    org_id = int(officer.url.rsplit("/", 1)[1])
    # The header now has 団体の管理: its page lists the group, with its members.
    _menu(officer, "manage", "/manage/")
    expect(officer).to_have_title(live.title_re(lang, "団体の管理"))
    officer.locator(f"#org-{org_id} a[href='/organizations/{org_id}/members']").click()
    expect(officer).to_have_url(re.compile(rf"/organizations/{org_id}/members$"))
    assert run_axe(officer) == []

    # Ward staff verify it: 区の業務 → 団体の確認.
    staff = demo_user("ward_staff", lang)
    staff.goto("/")
    _menu(staff, "ward", "/organizations/review")
    expect(staff).to_have_title(live.title_re(lang, "団体登録の確認"))
    card = staff.locator("section.card", has_text=group_name)
    card.locator("input[name=verified_until]").fill((today_tokyo() + timedelta(days=365)).isoformat())
    card.locator(f"form[action$='/organizations/{org_id}/verify'] button[type=submit]").click()
    expect_message(live, lang, staff.locator(".flash-success"), "団体を確認済みにしました。")
    assert live.run(lambda: db.session.get(Organization, org_id).is_verified)

    # The officer publishes a weekly event (a verified group publishes at once): 団体の管理 → 新しいイベント.
    first = today_tokyo() + timedelta(days=2)
    _menu(officer, "manage", "/manage/")
    officer.locator(f"#org-{org_id} a[href='/events/new?org={org_id}']").click()
    expect(officer).to_have_title(live.title_re(lang, "イベントを作る"))
    assert run_axe(officer) == []
    officer.fill("input[name=title_ja]", title)
    officer.select_option("select[name=category]", "safety")
    officer.select_option("select[name=frequency]", "weekly")
    officer.fill("input[name=first_date]", first.isoformat())
    officer.fill("input[name=until_date]", (first + timedelta(days=21)).isoformat())
    officer.fill("input[name=start_time]", "10:00")
    officer.fill("input[name=end_time]", "12:00")
    officer.select_option("select[name=district]", "akasaka")
    officer.fill("input[name=venue_name]", "赤坂区民センター")
    officer.fill("input[name=capacity]", "20")
    officer.locator("main form[enctype] button[type=submit]").click()
    expect(officer).to_have_url(re.compile(r"/events/\d+$"))
    series_id = int(officer.url.rsplit("/", 1)[1])
    officer.locator(f"form[action$='/events/{series_id}/submit'] button[type=submit]").click()
    expect_message(live, lang, officer.locator(".flash-success"), "公開しました。")
    assert run_axe(officer) == []  # the event page with the organizer's menu
    occurrences = live.run(lambda: list(db.session.scalars(
        sa.select(EventOccurrence.id).where(EventOccurrence.series_id == series_id)
        .order_by(EventOccurrence.starts_at))))
    assert len(occurrences) == 4  # weekly, three weeks after the first
    first_occurrence = occurrences[0]

    # A resident finds it (イベント → キーワード), registers for the first date and opens the ticket with the door
    # code from マイページ → 申し込んだイベント.
    resident = open_context(lang).new_page()
    resident.goto("/")
    _log_in(resident, resident_email)
    _header(resident).locator("a[href='/events/']").click()
    resident.wait_for_load_state("load")  # static/js/filters.js (deferred) opens the filters on a wide screen
    panel = resident.locator("details.filters-panel")
    if panel.get_attribute("open") is None:
        panel.locator("> summary").click()
    resident.fill("form.filters input[name=q]", title)
    resident.locator("form.filters button[type=submit]").click()
    resident.locator(f"main a[href='/events/{series_id}']").first.click()
    with resident.expect_navigation():
        resident.locator(f"form[action$='/events/occurrences/{first_occurrence}/register'] button").click()
    expect(resident.locator(".flash-success")).to_be_visible()
    _menu(resident, "mine", "/events/mine")
    resident.locator("a[href*='/participation/registrations/'][href$='/ticket']").first.click()
    expect(resident).to_have_title(live.title_re(lang, "受付用のQRコード"))
    code = resident.locator(".ticket-code strong").inner_text().strip()
    assert re.fullmatch(r"[A-Z0-9-]{4,12}", code), code

    # The day comes (check-in opens on the occurrence's day only). The organizer checks them in on a phone by the
    # typed code (not the camera): ☰ → 団体の管理 → the event.
    def first_is_today():
        occurrence = db.session.get(EventOccurrence, first_occurrence)
        occurrence.starts_at = utcnow().replace(second=0, microsecond=0)
        occurrence.ends_at = occurrence.starts_at + timedelta(hours=2)

    live.run(first_is_today)
    door = with_axe(open_context(lang, viewport=PHONE)).new_page()
    door.goto("/")
    _log_in(door, officer_email, phone=True)
    _menu(door, "manage", "/manage/", phone=True)
    door.locator(f"#org-{org_id} a[href='/events/{series_id}']").first.click()
    door.locator(f"a[href$='/participation/occurrences/{first_occurrence}/checkin']").click()
    expect(door).to_have_title(live.title_re(lang, "受付"))
    door.fill("input[name=code]", code.replace("-", "").lower())
    door.locator("#checkin-form button[type=submit]").click()
    expect(door.locator("#count-checked-in")).to_have_text("1")
    with door.expect_navigation():
        door.locator("#walkins form:has(input[value='1']) button").click()  # one walk-in at the door
    expect(door.locator("#walkins h2")).to_contain_text(": 1")
    assert run_axe(door) == []
    assert door.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]  # nothing wider than the phone

    # Time passes: the first date ends. Then the organizer files the report (prefilled: 1 + 1 walk-in):
    # ☰ → 団体の管理 → 参加報告 → the date.
    def end_first():
        occurrence = db.session.get(EventOccurrence, first_occurrence)
        occurrence.starts_at = utcnow() - timedelta(hours=3)
        occurrence.ends_at = utcnow() - timedelta(hours=1)

    live.run(end_first)
    _menu(door, "manage", "/manage/", phone=True)
    door.locator(f"#org-{org_id} a[href='/participation/organizations/{org_id}/reports']").click()
    door.locator(f"main a[href='/participation/occurrences/{first_occurrence}/report']").click()
    expect(door).to_have_title(live.title_re(lang, "参加報告"))
    expect(door.locator("input[name=total]")).to_have_value("2")
    assert run_axe(door) == []
    door.locator("main form[action$='/report'] button[type=submit]").click()
    expect_message(live, lang, door.locator(".flash-success"), "参加報告を送りました。")

    # Ward staff approve it (区の業務 → 参加報告の承認) and see the indicator (安全で安心なまちづくりに向けた活動
    # 参加者数) move by 2.
    before = _participants(staff, "P09-02-2")
    _menu(staff, "ward", "/participation/staff/reports")
    expect(staff).to_have_title(live.title_re(lang, "参加報告の確認"))
    row = staff.locator("tbody tr", has_text=title)
    row.locator("form[action*='/approve'] button").click()
    expect_message(live, lang, staff.locator(".flash-success"), "参加報告を承認しました。")
    assert _participants(staff, "P09-02-2") == before + 2
    assert live.run(lambda: db.session.get(EventSeries, series_id).organization_id) == org_id


# ---------------------------------------------------------------- staff read the utilization dashboard


@pytest.mark.parametrize("lang", LANGS)
def test_staff_read_the_utilization_dashboard(live, demo_user, lang):
    page = demo_user("ward_staff", lang)
    page.goto("/")
    _menu(page, "ward", "/staff/utilization")
    expect(page).to_have_title(live.title_re(lang, "施設の利用率"))
    expect(page.locator("main table").first).to_be_visible()
    assert "%" in page.locator("main").inner_text()
    facility_id = _facility_id(live)
    page.locator(f"main a[href*='/staff/utilization/facilities/{facility_id}']").first.click()
    expect(page).to_have_url(re.compile(rf"/staff/utilization/facilities/{facility_id}"))
    expect(page.locator("main table").first).to_be_visible()
    page.go_back()
    with page.expect_download() as download_info:
        page.locator("main a[href*='/staff/utilization/export.csv']").first.click()
    assert download_info.value.suggested_filename.endswith(".csv")


# ---------------------------------------------------------------- a phone: the ☰ menu to a work page


# who: (their menu, the link followed from the workspace page, the title msgid of the page it opens)
PHONE_WORK = {
    "officer": ("manage", "main a[href^='/events/occurrences/'][href$='/registrations']", "申込者の一覧"),
    "ward_staff": ("ward", "main a[href='/organizations/review']", "団体登録の確認"),
}
WORKSPACES = {"mine": "/my/", "manage": "/manage/", "desk": "/desk/", "ward": "/ward/"}


@pytest.mark.parametrize(("who", "lang"), [("officer", "ja"), ("officer", "en"), ("officer", "ja-easy"),
                                           ("ward_staff", "ja-easy")])
def test_phone_menu_leads_to_the_work(live, open_context, who, lang):
    """On a 375 px phone the header is one ☰ disclosure (details/summary: no JavaScript needed); inside it, the
    role menu opens the workspace, and the workspace its work."""
    account = DEMO_ACCOUNTS[who]
    key, link, title = PHONE_WORK[who]
    context = open_context(lang, viewport=PHONE, java_script_enabled=False)
    page = context.new_page()

    page.goto("/")
    expect(page.locator(".nav-desktop")).to_be_hidden()
    expect(page.locator(".nav-phone a[href='/account/login']")).to_be_hidden()  # folded until ☰ is opened
    _log_in(page, account.email, account.password, phone=True)
    _pick_language(page, lang)  # the demo account's own language came back with the sign-in

    _menu(page, key, WORKSPACES[key], phone=True)
    expect(page).to_have_title(live.title_re(lang, {"manage": "団体の管理", "ward": "区の業務"}[key]))
    page.locator(link).first.click()
    expect(page).to_have_title(live.title_re(lang, title))
    # The breadcrumb leads back to the workspace.
    expect(page.locator(f"nav.breadcrumbs a[href='{WORKSPACES[key]}']")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
