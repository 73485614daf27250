"""Every page a role needs is reachable from `/` by clicking: a crawler per persona, in each language.

The crawler signs in through the login form, starts at `/` and follows only what a person can click in the HTML:
links and GET forms (submitted with the values the form shows). It never types a URL. Each persona's work pages
are listed below, one line per page (a label and the path's pattern); every one must be reached within
MAX_CLICKS clicks and answer 200, or the test names the pages that became unreachable.

The world is the demo data (`flask demo load`), as a newcomer meets it, plus one editor (the demo has none).
"""

from __future__ import annotations

import re
from collections import deque
from html.parser import HTMLParser
from urllib.parse import urlencode, urljoin, urlsplit

import pytest
import sqlalchemy as sa

from app.accounts.models import User
from app.demo.accounts import DEMO_ACCOUNTS
from app.extensions import db
from app.organizations.models import Membership, MembershipRole, Organization
from tests.factories import login, make_user

MAX_CLICKS = 3
# Pages of one shape (ids replaced) fetched per depth: enough to find the links on e.g. an event page without
# opening all of them.
PER_SHAPE = 1
SKIP = re.compile(r"\.(ics|csv|xlsx|jpg|svg|json|png)$|^/static/|^/api/|^/healthz|/unsubscribe/|/cancel/")

ANONYMOUS = """
イベントの一覧            ^/events/$
カレンダー               ^/events/calendar$
イベントのページ           ^/events/\\d+$
施設の一覧               ^/facilities/$
施設のページ              ^/facilities/\\d+$
空いている部屋を探す        ^/facilities/search$
施設の空き状況            ^/facilities/\\d+/availability$
抽選                    ^/lotteries/$
新しく空いた枠            ^/alerts/freed$
団体の一覧               ^/organizations/$
団体のページ              ^/organizations/\\d+$
成果指標                ^/indicators$
ログイン                ^/account/login$
新規登録                ^/account/signup$
"""
RESIDENT = """
マイページ               ^/my/$
申し込んだイベント          ^/events/mine$
わたしの予約             ^/bookings/mine$
予約の申込フォーム          ^/bookings/new$
抽選の申込               ^/lotteries/mine$
空きのお知らせ            ^/alerts/mine$
プロフィール              ^/account/profile$
団体を登録する            ^/organizations/new$
"""
EDITOR = """
団体の管理               ^/manage/$
イベントの管理            ^/events/organizations/\\d+/manage$
新しいイベント            ^/events/new$
"""
OFFICER = EDITOR + """
参加報告                ^/participation/organizations/\\d+/reports$
参加報告を書く            ^/participation/occurrences/\\d+/report$
メンバー                ^/organizations/\\d+/members$
団体の情報の編集          ^/organizations/\\d+/edit$
申込者の一覧             ^/events/occurrences/\\d+/registrations$
"""
FACILITY_STAFF = """
窓口                    ^/desk/$
今日の予約表             ^/bookings/desk/\\d+$
窓口で予約する            ^/bookings/desk/\\d+/book$
休館日                  ^/bookings/desk/\\d+/closures$
抽選の管理               ^/lotteries/staff$
施設の利用率             ^/staff/utilization/facilities/\\d+$
写真                    ^/facilities/\\d+/photos$
"""
WARD_STAFF = """
区の業務                 ^/ward/$
団体の確認               ^/organizations/review$
イベントの審査            ^/events/review$
参加報告の承認            ^/participation/staff/reports$
成果指標(職員)            ^/staff/indicators$
年度の確定               ^/staff/indicators/years$
施設の利用率             ^/staff/utilization$
参加者数の集計            ^/participation/staff/participants$
"""

PERSONAS = {  # persona: (demo account key or None, its work pages)
    "anonymous": (None, ANONYMOUS),
    "resident": ("resident", RESIDENT),
    "officer": ("officer", RESIDENT + OFFICER),
    "editor": ("editor", EDITOR),
    "facility_staff": ("facility_staff", FACILITY_STAFF),
    "ward_staff": ("ward_staff", WARD_STAFF),
    "admin": ("admin", FACILITY_STAFF + WARD_STAFF),
}
EDITOR_EMAIL = "editor.crawler@example.jp"
EDITOR_PASSWORD = "Crawler-Editor-Pass-2026"  # noqa: S105 - a test account


def _targets(table: str) -> dict[str, re.Pattern]:
    lines = [line.rsplit(None, 1) for line in table.strip().splitlines() if line.strip()]
    return {label.strip(): re.compile(pattern) for label, pattern in lines}


class _Page(HTMLParser):
    """The links and GET forms of one page: what a person can click there."""

    def __init__(self):
        super().__init__()
        self.links: list[str] = []
        self.forms: list[tuple[str, list[tuple[str, str]]]] = []
        self._form: tuple[str, list] | None = None
        self._select: str | None = None
        self._first_option: str | None = None
        self._selected = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])
        elif tag == "form":
            if (a.get("method") or "get").lower() == "get":
                self._form = (a.get("action") or "", [])
        elif self._form is not None and tag == "input" and a.get("name") and "disabled" not in a:
            kind = (a.get("type") or "text").lower()
            if kind in ("checkbox", "radio") and "checked" not in a:
                return
            if kind not in ("submit", "button", "image"):
                self._form[1].append((a["name"], a.get("value") or ""))
        elif self._form is not None and tag == "select" and a.get("name"):
            self._select, self._first_option, self._selected = a["name"], None, False
        elif self._form is not None and tag == "option" and self._select:
            value = a.get("value", "")
            if self._first_option is None:
                self._first_option = value
            if "selected" in a:
                self._form[1].append((self._select, value))
                self._selected = True

    def handle_endtag(self, tag):
        if tag == "select" and self._select:
            if not self._selected and self._first_option is not None and self._form is not None:
                self._form[1].append((self._select, self._first_option))
            self._select = None
        elif tag == "form" and self._form is not None:
            self.forms.append(self._form)
            self._form = None


def _shape(path: str) -> str:
    return re.sub(r"\d+", "#", path)


def crawl(client, targets: dict[str, re.Pattern]) -> dict[str, int]:
    """Breadth first from `/`: {label: clicks} for each target reached with a 200 within MAX_CLICKS clicks."""
    found: dict[str, int] = {}
    seen: set[str] = {"/"}
    shapes: dict[tuple[str, int], int] = {}
    queue = deque([("/", 0)])
    while queue:
        url, depth = queue.popleft()
        response = client.get(url)
        path = urlsplit(url).path
        if response.status_code != 200:
            continue
        for label, pattern in targets.items():
            if label not in found and pattern.search(path):
                found[label] = depth
        if len(found) == len(targets):
            break  # every page reached: the rest of the site is not this test's business
        if depth == MAX_CLICKS or "text/html" not in response.content_type:
            continue
        page = _Page()
        page.feed(response.get_data(as_text=True))
        nexts = [urljoin(url, href) for href in page.links]
        nexts += [urljoin(url, action or url) + ("?" + urlencode(fields) if fields else "")
                  for action, fields in page.forms]
        for target in nexts:
            parts = urlsplit(target)
            if parts.scheme not in ("", "http") or parts.netloc not in ("", "localhost") or SKIP.search(parts.path):
                continue
            local = parts.path + (f"?{parts.query}" if parts.query else "")
            if local in seen:
                continue
            seen.add(local)
            wanted = any(label not in found and p.search(parts.path) for label, p in targets.items())
            key = (_shape(parts.path), depth + 1)
            if not wanted and shapes.get(key, 0) >= PER_SHAPE:
                continue
            shapes[key] = shapes.get(key, 0) + 1
            queue.append((local, depth + 1))
    return found


def _load_demo_with_an_editor(app) -> None:
    result = app.test_cli_runner().invoke(args=["demo", "load"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        officer = db.session.scalar(sa.select(User).where(User.email == DEMO_ACCOUNTS["officer"].email))
        organization = db.session.scalar(
            sa.select(Organization).join(Membership, Membership.organization_id == Organization.id)
            .where(Membership.user_id == officer.id, Membership.role == MembershipRole.OFFICER)
            .order_by(Organization.id).limit(1))
    editor = make_user(email=EDITOR_EMAIL, password=EDITOR_PASSWORD)
    with app.app_context():
        db.session.add(Membership(organization_id=organization.id, user_id=editor.id, role=MembershipRole.EDITOR))
        db.session.commit()


def _sign_in(client, key: str | None) -> None:
    if key is None:
        return
    if key == "editor":
        email, password = EDITOR_EMAIL, EDITOR_PASSWORD
    else:
        email, password = DEMO_ACCOUNTS[key].email, DEMO_ACCOUNTS[key].password
    response = login(client, email, password)
    assert response.status_code in (302, 303), f"{key} could not sign in"


@pytest.mark.slow  # loads the demo data and crawls 21 times: about a minute
def _languages(app) -> tuple[str, ...]:
    """Every language on SQLite; Japanese alone on PostgreSQL. The links come from the same templates in each
    language and the data from the same demo: what only the database can change (which rows a query finds) shows in
    one language as well as in three, and the PostgreSQL half is the longer of the two CI runs."""
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        return ("ja",)
    return ("ja", "en", "ja-easy")


def test_every_work_page_is_reached_from_home_by_clicking(app):
    """One world (the demo data, loaded once), every persona in every language; all misses reported together."""
    _load_demo_with_an_editor(app)
    missing = []
    for persona, (key, table) in PERSONAS.items():
        targets = _targets(table)
        for lang in _languages(app):
            client = app.test_client()
            client.set_cookie("tsudoi_lang", lang)
            _sign_in(client, key)
            found = crawl(client, targets)
            missing += [f"{persona} ({lang}): {label}" for label in targets if label not in found]
    assert not missing, f"not reachable within {MAX_CLICKS} clicks from /:\n" + "\n".join(missing)


def test_the_crawler_reports_a_page_that_no_link_reaches(app):
    """Control: a page only reachable by typing its URL is reported (the crawler does not guess URLs)."""
    targets = _targets("ヘルスチェック  ^/healthz$\nイベントの一覧  ^/events/$")
    found = crawl(app.test_client(), targets)
    assert "イベントの一覧" in found and "ヘルスチェック" not in found
