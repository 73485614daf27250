"""Lottery pages: the public period page (seed hash before the draw, seed and results after), applicants'
entries (apply, change until their tier's window closes, withdraw), winners' confirm/decline, and the staff
pages (open and change a period, see entries, draw)."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import sqlalchemy as sa
from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from wtforms import SelectChoice

from app.accounts.models import User
from app.bookings.models import Booking
from app.core.converters import ID_MAX
from app.core.db import rows_by_id
from app.core.errors import DomainError
from app.core.filters import datetime_long
from app.core.forms import ActionForm
from app.core.permissions import Role, role_required
from app.core.time import to_tokyo, today_tokyo, tokyo_to_utc, utcnow
from app.core.transactions import FLASH, VIEW, request_transaction
from app.extensions import db
from app.facilities import queries as facility_queries
from app.facilities.models import Facility, Room, TimeSlot
from app.lottery import entries as flow
from app.lottery import models as lottery_models
from app.lottery import periods as lottery_periods
from app.lottery import services as lottery_services
from app.lottery.forms import (
    ApplyForm,
    ConfirmAwardForm,
    PeriodForm,
    PreferenceRow,
    kind_choices,
    read_preferences,
    rows_for,
)
from app.lottery.models import LotteryDraw, LotteryEntry, LotteryPeriod
from app.organizations.models import Organization
from app.organizations.models import OrganizationKind as K

bp = Blueprint("lotteries", __name__, url_prefix="/lotteries")

def _phase_label(phase: str) -> str:
    return {
        "preparing": _("準備中"), "before": _("受付前"), "open": _("受付中"), "waiting": _("抽選待ち"),
        "confirming": _("抽選済み(当選者の確定期間)"), "first_come": _("先着順の予約受付中"),
    }[phase]


def _period_or_404(period_id: int) -> LotteryPeriod:
    period = db.get_or_404(LotteryPeriod, period_id)
    return period


def _context(period: LotteryPeriod) -> dict:
    """What every lottery page shows about a period: facility, rooms, tiers, draw, phase, slot labels."""
    facility = db.session.get(Facility, period.facility_id)
    rooms = rows_by_id(db.session.scalars(sa.select(Room).where(Room.facility_id == facility.id)))
    labels: dict[str, str] = {}
    for slot in db.session.scalars(sa.select(TimeSlot).where(TimeSlot.facility_id == facility.id)
                                   .order_by(TimeSlot.start_time, TimeSlot.id)):
        if slot.code not in labels or (slot.weekday is None and slot.on_date is None):
            labels[slot.code] = slot.label
    tiers = lottery_periods.tiers_of(period.id)
    draw = db.session.scalar(sa.select(LotteryDraw).where(LotteryDraw.period_id == period.id))
    phase = lottery_periods.phase(period, tiers, draw, utcnow())
    scope = lottery_periods.related_rooms(period, list(rooms.values()))
    return dict(period=period, facility=facility, rooms=rooms, slot_labels=labels, tiers=tiers, draw=draw,
                phase=phase, phase_label=_phase_label(phase), kind_label=lottery_periods.kind_label, to_tokyo=to_tokyo,
                lottery_rooms=[r for r in rooms.values() if r.id in scope and not r.hourly and r.active],
                timedelta=timedelta)


# --- public ------------------------------------------------------------------------------------------------------


@bp.get("/")
def index():
    facility_id = request.args.get("facility", type=int)
    if facility_id is not None and not 0 < facility_id <= ID_MAX:
        abort(404)  # no facility has that id (and the database could not even compare it)
    periods = lottery_periods.upcoming_periods(since=today_tokyo(), facility_id=facility_id)
    facilities = {f.id: f for f in db.session.scalars(
        sa.select(Facility).where(Facility.id.in_({p.facility_id for p in periods})))} if periods else {}
    rooms = {r.id: r for r in db.session.scalars(
        sa.select(Room).where(Room.id.in_({p.room_id for p in periods if p.room_id})))} if periods else {}
    return render_template("lotteries/index.html", periods=periods, facilities=facilities, rooms=rooms)


@bp.get("/<int:period_id>")
def show(period_id: int):
    ctx = _context(_period_or_404(period_id))
    draw = ctx["draw"]
    results = lottery_periods.public_results(ctx["period"], draw) if draw is not None and draw.is_drawn else []
    mine = flow.entries_for(current_user, period_id=period_id) if current_user.is_authenticated else []
    window = (flow.entry_window(flow.applicants(ctx["period"], current_user), utcnow())
              if current_user.is_authenticated and ctx["phase"] in ("before", "open") else None)
    return render_template("lotteries/show.html", results=results, mine=mine, window=window, **ctx)


@bp.get("/<int:period_id>/record.json")
def record(period_id: int):
    """The public record of a drawn period (entries by number, groups as g1, g2 ...): re-run it with lottery.py."""
    try:
        document = lottery_services.export_period(_period_or_404(period_id))
    except lottery_services.NotOpen:
        abort(404)
    response = jsonify(document)
    response.headers["Content-Disposition"] = f'attachment; filename="lottery-{period_id}.json"'
    return response


# --- applicants ------------------------------------------------------------------------------------------------


def _applicant_choices(applicants) -> list[SelectChoice]:
    choices = []
    for a in applicants:
        name = a.organization.name_ja if a.organization else _("個人として申し込む")
        if a.tier is None:
            continue
        choices.append(SelectChoice(a.value, _("%(name)s(優先順位%(rank)s)", name=name, rank=a.tier.rank)))
    return choices


def _apply_page(ctx, form, rows, status=200, *, error=None, entry=None, applicants=None):
    return render_template("lotteries/apply.html", form=form, rows=rows, error=error, entry=entry,
                           applicants=applicants or [], **ctx), status


@bp.route("/<int:period_id>/apply", methods=["GET", "POST"])
@login_required
def apply(period_id: int):
    ctx = _context(_period_or_404(period_id))
    period, draw = ctx["period"], ctx["draw"]
    if draw is None or draw.is_drawn:
        flash(_("この抽選は申込を受け付けていません。"), "error")
        return redirect(url_for("lotteries.show", period_id=period.id), 303)
    applicants = flow.applicants(period, current_user)
    window = flow.entry_window(applicants, utcnow())
    if not window.open:  # the form is offered only while one of the person's windows is open; the page says when
        flash(_window_message(window), "error")
        return redirect(url_for("lotteries.show", period_id=period.id), 303)
    form = ApplyForm()
    form.applicant.choices = _applicant_choices(applicants)
    k = draw.max_preferences
    if request.method == "GET":
        return _apply_page(ctx, form, [PreferenceRow() for _ in range(k)], applicants=applicants)
    rows, ok = read_preferences(request.form, k)
    if not form.validate_on_submit() or not ok:
        return _apply_page(ctx, form, rows, 422, applicants=applicants)
    raw = form.applicant.data or ""
    if raw and not (raw.isascii() and raw.isdigit()):  # neither a group's id nor "" (yourself); "²" passes isdigit
        form.applicant.errors = [_("申込者を一覧から選んでください。")]
        return _apply_page(ctx, form, rows, 422, applicants=applicants)
    organization_id = int(raw) if raw else None
    with request_transaction(errors=VIEW) as tx:
        entry = flow.apply(period, user=current_user, organization_id=organization_id,
                           preferences=[r.key for r in rows if r.key])
    if tx.failed:
        _mark_row(rows, tx.error)
        return _apply_page(ctx, form, rows, tx.status(), error=tx.error.message, applicants=applicants)
    flash(_("申し込みました。申込番号は%(n)sです。受付期間中は変更できます。", n=entry.id), "success")
    return redirect(url_for("lotteries.entry", entry_id=entry.id), 303)


def _window_message(window) -> str:
    if window.opens_at is not None:
        return _("まだ受付前です。%(when)sから申し込めます。", when=datetime_long(window.opens_at))
    if window.closed:
        return _("受付は終わりました。申込の追加や変更はできません。")
    return _("この抽選には、あなたの区分からは申し込めません。")


def _mark_row(rows: list[PreferenceRow], exc: DomainError) -> None:
    rank = getattr(exc, "rank", None)
    if rank is None:
        return
    filled = [r for r in rows if not r.is_blank]
    if 0 < rank <= len(filled):
        filled[rank - 1].error = str(exc.message)


@bp.get("/mine")
@login_required
def mine():
    entries = flow.entries_for(current_user)
    periods = {p.id: p for p in db.session.scalars(
        sa.select(LotteryPeriod).where(LotteryPeriod.id.in_({e.period_id for e in entries})))} if entries else {}
    facilities = {f.id: f for f in db.session.scalars(
        sa.select(Facility).where(Facility.id.in_({p.facility_id for p in periods.values()})))} if periods else {}
    return render_template("lotteries/mine.html", entries=entries, periods=periods, facilities=facilities,
                           award_state=flow.award_state, now=utcnow())


def _entry_or_404(entry_id: int) -> LotteryEntry:
    """The entry if the current user is its entrant or an officer of its group; otherwise 404 (no leak)."""
    entry = db.session.get(LotteryEntry, entry_id)
    if entry is None or not flow.can_act_for(current_user, entry):
        abort(404)
    return entry


def _entry_page(entry: LotteryEntry, *, rows=None, confirm_form=None, error=None, status=200):
    ctx = _context(db.session.get(LotteryPeriod, entry.period_id))
    tier = next((t for t in ctx["tiers"] if t.rank == entry.tier), None)
    now = utcnow()
    state = flow.award_state(entry, ctx["period"], now)
    booking = None
    if entry.booking_id:
        booking = db.session.get(Booking, entry.booking_id)
    return render_template(
        "lotteries/entry.html", entry=entry, tier=tier, editable=tier is not None and tier.is_open(now)
        and not (ctx["draw"] and ctx["draw"].is_drawn), rows=rows or rows_for(entry.preferences,
                                                                           ctx["draw"].max_preferences),
        state=state, slot=flow.award(entry), booking=booking, error=error, action_form=ActionForm(),
        confirm_form=confirm_form or ConfirmAwardForm(formdata=None), **ctx), status


@bp.route("/entries/<int:entry_id>", methods=["GET", "POST"])
@login_required
def entry(entry_id: int):
    entry = _entry_or_404(entry_id)
    if request.method == "GET":
        return _entry_page(entry)
    draw = db.session.scalar(sa.select(LotteryDraw).where(LotteryDraw.period_id == entry.period_id))
    form = ActionForm()
    rows, ok = read_preferences(request.form, draw.max_preferences)
    if not form.validate_on_submit() or not ok:
        return _entry_page(entry, rows=rows, status=422, error=None if ok else _("入力内容を確かめてください。"))
    with request_transaction(errors=VIEW, success=_("希望を変更しました。")) as tx:
        flow.change(entry, user=current_user, preferences=[r.key for r in rows if r.key])
    if tx.failed:
        _mark_row(rows, tx.error)
        return _entry_page(db.session.get(LotteryEntry, entry_id), rows=rows, error=tx.error.message,
                           status=tx.status())
    return redirect(url_for("lotteries.entry", entry_id=entry.id), 303)


@bp.post("/entries/<int:entry_id>/withdraw")
@login_required
def withdraw(entry_id: int):
    entry = _entry_or_404(entry_id)
    period_id = entry.period_id
    if not ActionForm().validate_on_submit():
        abort(400)
    with request_transaction(errors=FLASH, success=_("申込を取り下げました。")) as tx:
        flow.withdraw(entry, user=current_user)
    if tx.failed:
        return redirect(url_for("lotteries.entry", entry_id=entry_id), 303)
    return redirect(url_for("lotteries.show", period_id=period_id), 303)


@bp.post("/entries/<int:entry_id>/confirm")
@login_required
def confirm(entry_id: int):
    entry = _entry_or_404(entry_id)
    form = ConfirmAwardForm()
    if not form.validate_on_submit():
        return _entry_page(entry, confirm_form=form, status=422)
    with request_transaction(errors=VIEW, success=_("当選した枠の予約を確定しました。")) as tx:
        booking = flow.confirm_award(entry, user=current_user, purpose=form.purpose.data,
                                     attendees=form.attendees.data, category=form.category_value)
    if tx.failed:
        return _entry_page(db.session.get(LotteryEntry, entry_id), confirm_form=form, error=tx.error.message,
                           status=tx.status())
    return redirect(url_for("bookings.show", booking_id=booking.id), 303)


@bp.post("/entries/<int:entry_id>/decline")
@login_required
def decline(entry_id: int):
    entry = _entry_or_404(entry_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    with request_transaction(errors=FLASH, success=_("当選を辞退しました。")):
        flow.decline_award(entry, user=current_user)
    return redirect(url_for("lotteries.entry", entry_id=entry_id), 303)


# --- staff -----------------------------------------------------------------------------------------------------

STAFF_ROLES = (Role.FACILITY_STAFF, Role.WARD_STAFF)


def _managed_facility(facility_id: int) -> Facility:
    facility = db.get_or_404(Facility, facility_id)
    if not lottery_periods.can_manage(current_user, facility.id):
        abort(403)
    return facility


def _managed_period(period_id: int) -> LotteryPeriod:
    period = _period_or_404(period_id)
    _managed_facility(period.facility_id)
    return period


@bp.get("/staff")
@role_required(*STAFF_ROLES)
def staff_index():
    facilities = [f for f in facility_queries.list_facilities() if lottery_periods.can_manage(current_user, f.id)]
    periods: dict[int, list[LotteryPeriod]] = {}
    for p in lottery_periods.upcoming_periods(since=today_tokyo() - timedelta(days=62)):
        periods.setdefault(p.facility_id, []).append(p)
    return render_template("lotteries/staff_index.html", facilities=facilities, periods=periods)


def _period_form(facility: Facility, formdata=None, **data) -> PeriodForm:
    form = PeriodForm(formdata=formdata, **data) if formdata is not None else PeriodForm(**data)
    form.room_id.choices = [SelectChoice("", _("施設全体"))] + [
        SelectChoice(str(r.id), r.name) for r in facility_queries.facility_rooms(facility.id) if not r.hourly]
    choices = kind_choices((k, lottery_periods.kind_label(k)) for k in lottery_periods.APPLICANT_KINDS)
    for tier in form.tiers:
        tier.kinds.choices = choices
    return form


def _spec(form: PeriodForm) -> lottery_periods.PeriodSpec:
    tiers = [lottery_periods.TierSpec(list(t.kinds.data), t.opens_on.data, t.closes_on.data) for t in form.tiers
             if not t.is_blank]
    local = form.leftovers_open_at.data
    return lottery_periods.PeriodSpec(
        room_id=form.room_id.data, month=form.month.data, draw_date=form.draw_date.data,
        confirm_until_on=form.confirm_until_on.data,
        leftovers_open_at=tokyo_to_utc(local.date(), local.time()), entries_per_group=form.entries_per_group.data,
        max_preferences=form.max_preferences.data, allow_individuals=form.allow_individuals.data, tiers=tiers)


def _default_tiers(month) -> list[dict]:
    """The usual tiers: 町会 and welfare groups 4 months ahead, other registered groups 3, individuals 2."""
    def months_before(n: int):
        year, mon = divmod(month.year * 12 + month.month - 1 - n, 12)
        return month.replace(year=year, month=mon + 1, day=1)

    closes = months_before(1).replace(day=10)
    return [
        {"kinds": [K.NEIGHBORHOOD_ASSOCIATION.value, K.NPO.value, K.VOLUNTEER_GROUP.value],
         "opens_on": months_before(4), "closes_on": closes},
        {"kinds": [lottery_models.ANY_OTHER], "opens_on": months_before(3), "closes_on": closes},
        {"kinds": [lottery_models.INDIVIDUAL], "opens_on": months_before(2), "closes_on": closes},
    ]


def _form_page(facility, form, status=200, *, period=None, error=None):
    return render_template("lotteries/period_form.html", facility=facility, form=form, period=period,
                           error=error), status


@bp.route("/staff/<int:facility_id>/new", methods=["GET", "POST"])
@role_required(*STAFF_ROLES)
def staff_new(facility_id: int):
    facility = _managed_facility(facility_id)
    if request.method == "GET":
        today = today_tokyo()
        year, mon = divmod(today.year * 12 + today.month - 1 + 5, 12)
        month = today.replace(year=year, month=mon + 1, day=1)
        before = (month - timedelta(days=1)).replace(day=1)
        form = _period_form(facility, month=month, tiers=_default_tiers(month), draw_date=before.replace(day=15),
                            confirm_until_on=before.replace(day=22), allow_individuals=True,
                            leftovers_open_at=datetime.combine(before.replace(day=25), time(9, 0)))
        return _form_page(facility, form)
    form = _period_form(facility, request.form)
    if not form.validate_on_submit():
        return _form_page(facility, form, 422)
    with request_transaction(errors=VIEW,
                             success=_("抽選期間を作りました。事前に公開する値(SHA-256)が決まりました。")) as tx:
        period = lottery_periods.open_period(facility, _spec(form), actor=current_user)
    if tx.failed:
        return _form_page(facility, form, tx.status(), error=tx.error.message)
    return redirect(url_for("lotteries.staff_period", period_id=period.id), 303)


@bp.get("/staff/periods/<int:period_id>")
@role_required(*STAFF_ROLES)
def staff_period(period_id: int):
    ctx = _context(_managed_period(period_id))

    entries = list(db.session.scalars(
        sa.select(LotteryEntry).where(LotteryEntry.period_id == period_id).order_by(LotteryEntry.tier, LotteryEntry.id)
        .options(sa.orm.selectinload(LotteryEntry.preferences))))
    orgs = {o.id: o for o in db.session.scalars(sa.select(Organization).where(
        Organization.id.in_({e.organization_id for e in entries if e.organization_id})))} if entries else {}
    users = {u.id: u for u in db.session.scalars(sa.select(User).where(
        User.id.in_({e.user_id for e in entries if e.user_id})))} if entries else {}
    return render_template("lotteries/staff_period.html", entries=entries, orgs=orgs, users=users,
                           award_state=flow.award_state, award=flow.award, now=utcnow(), action_form=ActionForm(),
                           **ctx)


@bp.route("/staff/periods/<int:period_id>/edit", methods=["GET", "POST"])
@role_required(*STAFF_ROLES)
def staff_edit(period_id: int):
    period = _managed_period(period_id)
    facility = db.session.get(Facility, period.facility_id)
    if request.method == "GET":
        draw = db.session.scalar(sa.select(LotteryDraw).where(LotteryDraw.period_id == period.id))
        tiers = [{"kinds": t.kinds, "opens_on": to_tokyo(t.opens_at).date(),
                  "closes_on": to_tokyo(t.closes_at).date() - timedelta(days=1)}
                 for t in lottery_periods.tiers_of(period.id)]
        data = dict(room_id=period.room_id, month=period.start_date, tiers=tiers, draw_date=period.draw_date,
                    allow_individuals=period.allow_individuals,
                    entries_per_group=draw.entries_per_group if draw else 1,
                    max_preferences=draw.max_preferences if draw else 3)
        if period.confirm_until:
            data["confirm_until_on"] = to_tokyo(period.confirm_until).date() - timedelta(days=1)
        if period.leftovers_open_at:
            data["leftovers_open_at"] = to_tokyo(period.leftovers_open_at).replace(tzinfo=None)
        form = _period_form(facility, **data)
        form.room_id.data = period.room_id
        return _form_page(facility, form, period=period)
    form = _period_form(facility, request.form)
    if not form.validate_on_submit():
        return _form_page(facility, form, 422, period=period)
    with request_transaction(errors=VIEW, success=_("抽選期間を変更しました。")) as tx:
        lottery_periods.update_period(period, _spec(form), actor=current_user)
    if tx.failed:
        return _form_page(facility, form, tx.status(), period=db.session.get(LotteryPeriod, period_id),
                          error=tx.error.message)
    return redirect(url_for("lotteries.staff_period", period_id=period.id), 303)


@bp.post("/staff/periods/<int:period_id>/draw")
@role_required(*STAFF_ROLES)
def staff_draw(period_id: int):
    period = _managed_period(period_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    with request_transaction(errors=FLASH) as tx:
        result = lottery_periods.staff_draw(period, actor=current_user)
    if tx.ok:
        flash(_("抽選しました。%(n)s件が当選しました。結果を申込者にメールで知らせました。", n=len(result.awards)),
              "success")
    return redirect(url_for("lotteries.staff_period", period_id=period_id), 303)
