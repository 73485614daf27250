"""The header every page shares and the breadcrumbs of the pages below a workspace.

Labels are menu text: plain() keeps furigana out of them (they are short words, and an <option>-like place).
The header holds the public sections (イベント, 施設の予約, 抽選, 団体, 成果指標) and, for a signed-in person, one menu
per role they hold: マイページ, 団体の管理, 窓口, 区の業務. Each menu opens its workspace page and lists its pages with
the counts of app.portal.work, so a number in the header is the length of the list it links to.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import request, url_for
from flask_babel import gettext as _
from flask_babel import pgettext
from flask_login import current_user

from app.core.i18n import plain
from app.core.permissions import Role, has_role
from app.portal import work


@dataclass
class Link:
    label: str
    url: str
    count: int | None = None  # what waits behind the link; None: nothing is counted there
    current: bool = False


@dataclass
class Menu:
    key: str  # mine | manage | desk | ward
    label: str
    url: str
    links: list[Link] = field(default_factory=list)

    @property
    def count(self) -> int:
        return sum(link.count or 0 for link in self.links)


SECTIONS = (  # (endpoint, the blueprints whose pages it stands for)
    ("events.index", ("events", "participation")),
    ("facilities.index", ("facilities", "availability", "bookings", "alerts")),
    ("lotteries.index", ("lotteries",)),
    ("organizations.index", ("organizations",)),
    ("indicators.public_list", ("indicators", "dashboards")),
)


def _section_labels() -> dict[str, str]:
    return {
        # A section names the pages it leads to: "Events", where a table column says "Event".
        "events.index": plain(pgettext("section", "イベント")),
        "facilities.index": plain(_("施設の予約")),
        "lotteries.index": plain(_("抽選")),
        "organizations.index": plain(pgettext("section", "団体")),
        "indicators.public_list": plain(_("成果指標")),
    }


def workspace_labels() -> dict[str, str]:
    return {
        "mine": plain(_("マイページ")),
        "manage": plain(_("団体の管理")),
        "desk": plain(_("窓口")),
        "ward": plain(_("区の業務")),
    }


# The pages below each workspace (by endpoint): they get the breadcrumb ホーム › <workspace> › <page>. An endpoint
# under several (the lottery staff pages serve the desk and the ward) takes the first the person holds.
_BELOW = {
    "mine": ("events.mine", "bookings.mine", "bookings.show", "bookings.cancel", "bookings.series_show",
             "bookings.series_cancel", "alerts.mine", "alerts.new", "lotteries.mine", "lotteries.entry",
             "lotteries.apply", "accounts.profile", "participation.ticket"),
    "manage": ("organizations.mine", "organizations.edit", "organizations.members", "events.manage", "events.new",
               "events.edit", "events.edit_occurrence", "events.cancel", "events.cancel_occurrence",
               "events.registrations", "participation.checkin", "participation.report",
               "participation.organization_reports"),
    "desk": ("bookings.desk", "bookings.desk_book", "bookings.desk_series", "bookings.closures",
             "facilities.photos_manage", "facilities.reading_edit", "lotteries.staff_index", "lotteries.staff_new",
             "lotteries.staff_edit", "lotteries.staff_period", "dashboards.facility"),
    "ward": ("organizations.review", "events.review", "events.ward_relations", "participation.staff_reports",
             "indicators.staff_list", "indicators.staff_detail", "indicators.rules", "indicators.years",
             "indicators.confirm_freeze", "indicators.staff_participants", "dashboards.overview", "dashboards.facility",
             "lotteries.staff_index", "lotteries.staff_period"),
}
WORKSPACE_ENDPOINTS = {"mine": "portal.mine", "manage": "portal.manage", "desk": "portal.desk", "ward": "portal.ward"}


def sections() -> list[Link]:
    blueprint = request.blueprint
    labels = _section_labels()
    return [Link(labels[endpoint], url_for(endpoint), current=blueprint in blueprints)
            for endpoint, blueprints in SECTIONS]


def holds(user, key: str) -> bool:
    """Whether USER has the workspace KEY: everyone signed in has マイページ; the others follow roles and groups."""
    if not user.is_authenticated:
        return False
    if key == "mine":
        return True
    if key == "manage":
        return bool(work.group_work(user))
    if key == "desk":
        return bool(work.desk_work(user))
    return has_role(user, Role.WARD_STAFF)


def menus(user) -> list[Menu]:
    """The role menus of USER, in the order of the header."""
    if not user.is_authenticated:
        return []
    labels = workspace_labels()
    result = [Menu("mine", labels["mine"], url_for("portal.mine"), [
        Link(plain(_("申し込んだイベント")), url_for("events.mine")),
        Link(plain(_("わたしの予約")), url_for("bookings.mine")),
        Link(plain(_("抽選の申込")), url_for("lotteries.mine")),
        Link(plain(_("空きのお知らせ")), url_for("alerts.mine")),
        Link(plain(_("カレンダー配信")), url_for("portal.mine") + "#feeds"),
        Link(plain(_("プロフィール")), url_for("accounts.profile")),
    ])]
    groups = work.group_work(user)
    if groups:
        links = [Link(w.organization.name_ja, url_for("portal.manage") + f"#org-{w.organization.id}",
                      count=w.reports_due or None) for w in groups]
        links.append(Link(plain(_("新しいイベント")), url_for("events.new")))
        result.append(Menu("manage", labels["manage"], url_for("portal.manage"), links))
    desks = work.desk_work(user)
    if desks:
        links = [Link(d.facility.name, url_for("bookings.desk", facility_id=d.facility.id), count=d.waiting or None)
                 for d in desks]
        result.append(Menu("desk", labels["desk"], url_for("portal.desk"), links))
    ward = work.ward_work(user)
    if ward is not None:
        result.append(Menu("ward", labels["ward"], url_for("portal.ward"), [
            Link(plain(_("団体の確認")), url_for("organizations.review"), count=ward.groups_to_verify),
            Link(plain(_("イベントの審査")), url_for("events.review"), count=ward.events_to_review),
            Link(plain(_("参加報告の承認")), url_for("participation.staff_reports"), count=ward.reports_to_approve),
            Link(plain(_("期限を過ぎた報告")), url_for("participation.staff_reports"), count=ward.reports_overdue),
            Link(plain(_("成果指標(職員)")), url_for("indicators.staff_list")),
            Link(plain(_("施設の利用率")), url_for("dashboards.overview")),
        ]))
    return result


def breadcrumb() -> list[Link]:
    """[ホーム, the workspace] for a page below a workspace the person holds; [] elsewhere (the page adds itself)."""
    endpoint = request.endpoint
    if not endpoint or not current_user.is_authenticated:
        return []
    for key, endpoints in _BELOW.items():
        if endpoint in endpoints and holds(current_user, key):
            return [Link(plain(_("ホーム")), url_for("portal.home")),
                    Link(workspace_labels()[key], url_for(WORKSPACE_ENDPOINTS[key]))]
    return []
