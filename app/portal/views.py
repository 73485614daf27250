"""The front door and the workspaces: the home page, マイページ, 団体の管理, 窓口 and 区の業務."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, current_app, make_response, render_template, request, url_for
from flask_login import current_user, login_required

from app.alerts.services import lottery_openings, newly_available
from app.bookings import ical as booking_ical
from app.bookings.availability import SEARCH_STARTS
from app.core.args import enum_arg
from app.core.districts import District
from app.core.i18n import current_language
from app.core.permissions import Role, role_required
from app.core.time import hhmm, today_tokyo
from app.events import queries as event_queries
from app.events.registrations import my_feed_token
from app.portal import navigation, work

bp = Blueprint("portal", __name__)

DISTRICT_COOKIE = "tsudoi_district"
HOME_EVENTS = 6


@bp.app_context_processor
def _navigation():
    return {"nav_sections": navigation.sections, "nav_menus": lambda: navigation.menus(current_user),
            "breadcrumb": navigation.breadcrumb}


def _district() -> tuple[District | None, str | None]:
    """The district the home page shows: ?district= when given (and remembered), else the remembered one.
    Returns (district, the cookie value to set: '' to forget, None to leave the cookie alone)."""
    if "district" in request.args:
        district = enum_arg("district", District)
        return district, district.value if district else ""
    try:
        return District(request.cookies.get(DISTRICT_COOKIE, "")), None
    except ValueError:
        return None, None


def _week_and_weekend():
    """(today .. today+6, the coming Saturday .. Sunday): the two event lists of the home page."""
    today = today_tokyo()
    saturday = today + timedelta(days=(5 - today.weekday()) % 7)
    if today.weekday() == 6:  # on a Sunday, "this weekend" is today
        saturday = today - timedelta(days=1)
    return (today, today + timedelta(days=6)), (max(saturday, today), saturday + timedelta(days=1))


@bp.get("/")
def home():
    district, remember = _district()
    week, weekend = _week_and_weekend()
    lang = current_language().code

    def cards(span):
        filters = event_queries.Filters(date_from=span[0], date_to=span[1], district=district)
        return event_queries.card_rows(filters, limit=HOME_EVENTS)

    context = {
        "district": district, "districts": list(District), "week": week, "weekend": weekend,
        "week_rows": cards(week), "weekend_rows": cards(weekend), "lang": lang, "today": today_tokyo(),
        "starts": SEARCH_STARTS, "hm": hhmm, "lotteries": work.open_lotteries(),
        "freed": newly_available(limit=4), "openings": lottery_openings()[:3],
    }
    if current_user.is_authenticated:
        context.update(next=work.my_next(current_user), notices=work.my_notices(current_user),
                       groups=work.group_work(current_user), desks=work.desk_work(current_user),
                       ward=work.ward_work(current_user))
    response = make_response(render_template("portal/home.html", **context))
    if remember is not None:
        if remember:
            response.set_cookie(DISTRICT_COOKIE, remember, max_age=60 * 60 * 24 * 365, samesite="Lax", httponly=True,
                                secure=current_app.config["SESSION_COOKIE_SECURE"])
        else:
            response.delete_cookie(DISTRICT_COOKIE)
    response.headers["Vary"] = "Cookie"
    return response


def events_link(span, district: District | None) -> str:
    return url_for("events.index", **{"from": span[0].isoformat(), "to": span[1].isoformat(),
                                      **({"district": district.value} if district else {})})


bp.add_app_template_global(events_link, "home_events_link")


@bp.get("/my/")
@login_required
def mine():
    base = current_app.config["BASE_URL"]
    events_feed = base + url_for("events.my_feed", token=my_feed_token(current_user))
    bookings_feed = url_for("bookings.feed", token=booking_ical.feed_token(current_user), _external=True)
    return render_template("portal/mine.html", next=work.my_next(current_user, limit=10),
                           notices=work.my_notices(current_user), lang=current_language().code, hm=hhmm,
                           feeds=[("events", events_feed), ("bookings", bookings_feed)])


@bp.get("/manage/")
@login_required
def manage():
    return render_template("portal/manage.html", groups=work.group_work(current_user),
                           lang=current_language().code)


@bp.get("/desk/")
@role_required(Role.FACILITY_STAFF)
def desk():
    desks = work.desk_work(current_user)
    requested, tentative = work.desk_queue([d.facility.id for d in desks])
    return render_template("portal/desk.html", desks=desks, requested=requested, tentative=tentative, hm=hhmm,
                           today=today_tokyo(), deadline_days=work.TENTATIVE_DEADLINE_DAYS)


@bp.get("/ward/")
@role_required(Role.WARD_STAFF)
def ward():
    return render_template("portal/ward.html", ward=work.ward_work(current_user),
                           due_days=int(current_app.config.get("PARTICIPATION_REPORT_DUE_DAYS", 7)))
