"""Indicator pages: the staff catalog and manual-value entry (ward staff), and the public transparency page."""

from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa
from flask import Blueprint, Response, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import pgettext
from flask_login import current_user

from app.core.args import fiscal_year_arg
from app.core.districts import District
from app.core.i18n import current_language
from app.core.permissions import Role, role_required
from app.core.time import fiscal_year, utcnow
from app.core.transactions import FLASH, request_transaction
from app.extensions import db
from app.indicators import export, participants, queries, services, sources, texts
from app.indicators.forms import FreezeYearForm, ManualValueForm, RoomRulesForm, RulesForm, YearActionForm
from app.indicators.models import FrozenYear, Indicator, MatchKind, SourceKind
from app.utilization import figures

bp = Blueprint("indicators", __name__)


# The report queue (participation, a lower layer) shows what approving a report feeds through this global.
@bp.app_template_global("indicators_counting")
def indicators_counting(series) -> list[str]:
    """Codes of the indicators an approved report of SERIES counts in; [] when no mapping rule takes it."""
    if "_indicator_rules" not in g:
        g._indicator_rules = sources.all_saved_rules()
    return sources.codes_counting(series, g._indicator_rules)


@bp.app_template_global("indicator_text")
def indicator_text(indicator, field: str) -> tuple[str | None, bool]:
    """INDICATOR's name, measure title or footnotes in the reader's language, and whether the Japanese was shown
    instead (the easy text carries furigana: render it with |ruby)."""
    return texts.indicator_text(indicator, field, current_language().code)


@bp.app_template_global("policy_title")
def policy_title(policy: int) -> tuple[str, bool]:
    """The title of POLICY in the reader's language, and whether the Japanese was shown instead."""
    return texts.policy_title(policy, current_language().code)


@bp.app_template_global("measure_label")
def measure_label(measure: str | None) -> str | None:
    """The plan's measure mark ('施策①') in the reader's language ('Measure 1'); render with |ruby."""
    return texts.measure_label(measure, current_language().code)


def _falls_back(indicators, policies=()) -> bool:
    """Whether the page shows a catalog text in Japanese for lack of the reader's language (the notice)."""
    return texts.falls_back(indicators, current_language().code, policies)


def _list_page(template: str):
    policies = queries.summaries_by_policy()
    indicators = [s.indicator for _policy, summaries in policies for s in summaries]
    return render_template(template, policies=policies,
                           texts_fell_back=_falls_back(indicators, [policy for policy, _s in policies]))


def _unit_words() -> dict[str, str]:
    """The plan's units in the reader's language (the plan prints them after the number, with no space)."""
    return {"人": pgettext("unit", "人"), "人/年": pgettext("unit", "人/年"), "団体": pgettext("unit", "団体"),
            "団体/年": pgettext("unit", "団体/年"), "件": pgettext("unit", "件"), "件/年": pgettext("unit", "件/年"),
            "店": pgettext("unit", "店"), "施設": pgettext("unit", "施設"), "か所": pgettext("unit", "か所")}


@bp.app_template_filter("indicator_unit")
def indicator_unit(unit: str | None) -> str:
    """An indicator's unit in the reader's language ('人' -> 'people')."""
    return _unit_words().get(unit, unit) if unit else ""


def _with_unit(number: str, unit: str | None) -> str:
    if not unit or unit == "%":
        return f"{number}{unit or ''}"
    word = _unit_words().get(unit, unit)
    return f"{number}{word}" if current_language().locale == "ja" else f"{number} {word}"


@bp.app_template_filter("indicator_value")
def indicator_value(value: Decimal | None, unit: str | None = None) -> str:
    """A value with thousands separators and its unit ('15,781人', '45.2%', '15,781 people'); '' when unknown."""
    if value is None:
        return ""
    return _with_unit(f"{value:,f}", unit)


@bp.app_template_filter("indicator_printed_value")
def indicator_printed_value(printed: str, unit: str | None = None) -> str:
    """A value as the plan prints it ('15,781人'), its unit in the reader's language ('15,781 people')."""
    if unit and unit != "%" and printed.endswith(unit):
        return _with_unit(printed[: -len(unit)], unit)
    return printed


@bp.app_template_filter("progress_percent")
def progress_percent(rate: Decimal | None) -> str:
    """A 進捗率 as a percentage with one decimal ('78.3%'); '' when it cannot be computed."""
    if rate is None:
        return ""
    return f"{(rate * 100).quantize(Decimal('0.1')):,f}%"


@bp.app_template_filter("indicator_pace")
def indicator_pace(year: int, summary) -> Decimal | None:
    """The pace-line value of YEAR for SUMMARY (chart data)."""
    return summary.pace(year)


@bp.app_template_filter("indicator_printed")
def indicator_printed(year: int, summary) -> Decimal | None:
    """The actual the plan prints for YEAR (当初 or 中間実績), None for other years (a gap in the chart)."""
    for printed in (summary.baseline, summary.midterm_actual):
        if printed is not None and printed.fiscal_year == year:
            return printed.value
    return None


@bp.app_template_filter("indicator_pace_text")
def indicator_pace_text(value: Decimal | None, unit: str | None = None) -> str:
    """A pace value rounded to one decimal with its unit; '—' when there is no pace line."""
    if value is None:
        return "—"
    return indicator_value(value.quantize(Decimal("0.1")), unit)


@bp.app_template_filter("district_label")
def district_label(value: str) -> str:
    """The label of a district value ('shiba' -> 芝)."""
    try:
        return str(District(value).label)
    except ValueError:
        return value


@bp.get("/indicators")
def public_list():
    """Everyone: the plan's indicators with their printed values and the latest published survey values."""
    return _list_page("indicators/public.html")


@bp.get("/staff/indicators")
@role_required(Role.WARD_STAFF)
def staff_list():
    """Ward staff: every indicator per policy with baseline, targets, printed mid-term values and source."""
    return _list_page("indicators/staff_list.html")


@bp.get("/staff/indicators/export.csv")
@role_required(Role.WARD_STAFF)
def staff_export():
    """Ward staff: the plan's table with the latest values as CSV (UTF-8 with BOM) for the 政策評価."""
    body = export.to_csv(queries.summaries_by_policy())
    return Response(
        body,
        mimetype="text/csv",
        headers={"Content-Disposition": "attachment; filename=indicators.csv"},
    )


@bp.get("/staff/indicators/export.xlsx")
@role_required(Role.WARD_STAFF)
def staff_export_xlsx():
    """Ward staff: the same table as an Excel workbook."""
    return Response(
        export.to_xlsx(queries.summaries_by_policy()),
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": "attachment; filename=indicators.xlsx"},
    )


def _indicator_or_404(code: str):
    indicator = queries.get_by_code(code)
    if indicator is None:
        abort(404)
    return indicator


def _year_arg() -> int:
    """The fiscal year of the breakdown and source list (?fy=2026): this year by default; see fiscal_year_arg."""
    current = fiscal_year(utcnow())
    return fiscal_year_arg(services.FIRST_FISCAL_YEAR, current, default=current)


def _detail(indicator, form: ManualValueForm | None = None, status: int = 200):
    if form is None and indicator.source_kind == SourceKind.MANUAL:
        form = ManualValueForm()
    summary = queries.summary_with_history(indicator)
    year = _year_arg()
    shown = summary.years.get(year)
    if indicator.source_kind.is_computed:
        if shown is not None and shown.frozen:
            parts = {"district": shown.details.get("district", []), "month": shown.details.get("month", [])}
        else:
            parts = sources.breakdowns(indicator, year)
        origin = sources.provenance(indicator, year)
        if indicator.source_kind in sources.EVENT_KINDS:
            origin["events"] = sources.counted_events(indicator, year)
    else:
        parts, origin = {"district": [], "month": []}, {}
    return render_template(
        "indicators/staff_detail.html",
        summary=summary,
        indicator=indicator,
        form=form,
        texts_fell_back=_falls_back([indicator], [indicator.policy]),
        year=year,
        shown=shown,
        parts=parts,
        origin=origin,
        formula=sources.formula_of(indicator),
        booking_definitions=figures.DEFINITIONS,
        lang=current_language().code,
    ), status


@bp.get("/staff/indicators/<code>")
@role_required(Role.WARD_STAFF)
def staff_detail(code: str):
    """Ward staff: one indicator as printed, its notes, and the values staff entered."""
    return _detail(_indicator_or_404(code))


@bp.post("/staff/indicators/<code>/values")
@role_required(Role.WARD_STAFF)
def enter_value(code: str):
    """Ward staff: record a survey value for a fiscal year (re-entering a year replaces it, audited)."""
    indicator = _indicator_or_404(code)
    if indicator.source_kind != SourceKind.MANUAL:
        abort(404)  # computed indicators take their values from Tsudoi's data
    form = ManualValueForm()
    if not form.validate_on_submit():
        return _detail(indicator, form, 422)
    # An InvalidManualValue names the field at fault; any other DomainError goes on to the error page.
    with request_transaction(form=form, success=_("値を保存しました。")) as tx:
        services.record_manual_value(
            indicator,
            fiscal_year=int(form.fiscal_year.data),
            value_text=form.value.data,
            source_document=form.source_document.data,
            source_date=form.source_date.data,
            note=form.note.data,
            actor_id=current_user.id,
        )
    if tx.failed:
        return _detail(_indicator_or_404(code), form, 422)
    return redirect(url_for("indicators.staff_detail", code=code), 303)


def _rules_page(indicator, form, *, preview=None, error: str | None = None, status: int = 200):
    return render_template("indicators/staff_rules.html", indicator=indicator, form=form, preview=preview,
                           error=error, texts_fell_back=_falls_back([indicator]), MatchKind=MatchKind,
                           lang=current_language().code,
                           by_room=indicator.source_kind == SourceKind.BOOKING_COUNT), status


def _ruled_indicator_or_404(code: str):
    indicator = _indicator_or_404(code)
    if indicator.source_kind not in (*sources.EVENT_KINDS, SourceKind.BOOKING_COUNT):
        abort(404)  # only event-based indicators and the booking count have mapping rules
    return indicator


def _room_preview(year: int, rules):
    """(year, value, rooms) of a room rule: the count it would give for YEAR, and the rooms it names."""
    ids = [int(rule.value) for rule in rules if rule.match == MatchKind.ROOM]
    figure = figures.koryu_count(year, room_ids=ids)
    rooms = [room for room in figures.bookable_rooms() if room.id in ids]
    value = sources.YearValue(year, figure.value, "computed", partial=figure.partial, through=figure.through,
                              ahead=figure.ahead)
    return year, value, rooms


@bp.get("/staff/indicators/<code>/rules")
@role_required(Role.WARD_STAFF)
def rules(code: str):
    """Ward staff: an indicator's mapping rules (events, or the rooms of a booking count), with a preview."""
    indicator = _ruled_indicator_or_404(code)
    saved = sources.saved_rules(indicator)
    year = fiscal_year(utcnow())
    if indicator.source_kind == SourceKind.BOOKING_COUNT:
        form = RoomRulesForm(data={"rooms": [r.value for r in saved if r.match == MatchKind.ROOM],
                                   "preview_year": str(year)}, rooms=figures.bookable_rooms())
        return _rules_page(indicator, form, preview=_room_preview(year, saved))
    form = RulesForm(data={
        "categories": [r.value for r in saved if r.match == MatchKind.CATEGORY],
        "organization_kinds": [r.value for r in saved if r.match == MatchKind.ORGANIZATION_KIND],
        "ward_relations": [r.value for r in saved if r.match == MatchKind.WARD_RELATION],
        "series": ", ".join(r.value for r in saved if r.match == MatchKind.SERIES),
        "preview_year": str(year),
    })
    return _rules_page(indicator, form, preview=(year, *sources.preview_rules(indicator, saved, year)))


@bp.post("/staff/indicators/<code>/rules")
@role_required(Role.WARD_STAFF)
def save_rules(code: str):
    """Ward staff: preview proposed rules (button 'preview'), or save them (button 'save', audited)."""
    indicator = _ruled_indicator_or_404(code)
    by_room = indicator.source_kind == SourceKind.BOOKING_COUNT
    form = RoomRulesForm(rooms=figures.bookable_rooms()) if by_room else RulesForm()
    if not form.validate_on_submit():
        return _rules_page(indicator, form, status=422)
    try:
        if by_room:
            proposed = services.parse_room_rules(form.rooms.data or [])
        else:
            proposed = services.parse_rules(categories=form.categories.data or [],
                                            organization_kinds=form.organization_kinds.data or [],
                                            series_text=form.series.data,
                                            ward_relations=form.ward_relations.data or [])
    except services.InvalidRules as error:
        (form.rooms if by_room else form.series).errors = [error.message]
        return _rules_page(indicator, form, status=422)
    if "save" not in request.form:
        year = int(form.preview_year.data)
        if by_room:
            return _rules_page(indicator, form, preview=_room_preview(year, proposed))
        return _rules_page(indicator, form, preview=(year, *sources.preview_rules(indicator, proposed, year)))
    with request_transaction():
        changed = services.save_rules(indicator, proposed, actor_id=current_user.id)
    flash(_("対応づけのルールを保存しました。") if changed else _("ルールは変わっていません。"), "success")
    return redirect(url_for("indicators.staff_detail", code=code), 303)


@bp.get("/staff/indicators/years")
@role_required(Role.WARD_STAFF)
def years():
    """Ward staff: fiscal years, which are frozen (確定) and by whom, with freeze / reopen buttons."""
    frozen = {row.fiscal_year: row for row in db.session.scalars(sa.select(FrozenYear))}
    current = fiscal_year(utcnow())
    return render_template("indicators/staff_years.html", frozen=frozen, current=current,
                           years=list(range(current, services.FIRST_FISCAL_YEAR - 1, -1)), form=YearActionForm())


def _year_action(year: int, action, done: str):
    form = YearActionForm()
    if not form.validate_on_submit():
        abort(400)
    with request_transaction(errors={services.FreezeError: FLASH}, success=done):
        action(year, actor_id=current_user.id)
    return redirect(url_for("indicators.years"), 303)


@bp.get("/staff/indicators/years/<int:year>/freeze")
@role_required(Role.WARD_STAFF)
def confirm_freeze(year: int):
    """Ward staff: what freezing a closed fiscal year would store (every indicator's value now), with the
    button that freezes it."""
    try:
        values = services.preview_freeze(year)
    except services.FreezeError as error:
        flash(error.message, "error")
        return redirect(url_for("indicators.years"), 303)
    form = FreezeYearForm()
    form.confirmed.data = "1"  # rendered by hidden_tag: the POST knows it comes from this page
    return render_template("indicators/staff_freeze.html", year=year, values=values, form=form,
                           texts_fell_back=_falls_back([indicator for indicator, _v in values]))


@bp.post("/staff/indicators/years/<int:year>/freeze")
@role_required(Role.WARD_STAFF)
def freeze_year(year: int):
    """Ward staff: freeze a closed fiscal year (its values are stored and no longer change). Only from the
    confirmation page: a POST without its `confirmed` field is sent there first."""
    form = FreezeYearForm()
    if not form.validate_on_submit():
        abort(400)
    if form.confirmed.data != "1":
        return redirect(url_for("indicators.confirm_freeze", year=year), 303)
    return _year_action(year, services.freeze_year, _("年度の値を確定しました。"))


@bp.post("/staff/indicators/years/<int:year>/reopen")
@role_required(Role.WARD_STAFF)
def reopen_year(year: int):
    """Ward staff: reopen a frozen fiscal year (values are computed from the current data again)."""
    return _year_action(year, services.reopen_year, _("年度の確定を取り消しました。"))


@bp.get("/participation/staff/participants")  # its address from when it lived in participation
@role_required(Role.WARD_STAFF)
def staff_participants():
    """Ward staff: the participant sums of the plan's indicators in a fiscal year and the occurrences they count."""
    current = fiscal_year(utcnow())
    year = request.args.get("year", type=int)
    if year is None or not 2000 <= year <= current + 1:
        year = current
    sums = participants.participant_sums(year)
    indicators = {i.code: i for i in db.session.scalars(sa.select(Indicator).where(Indicator.code.in_(list(sums))))}
    return render_template("indicators/staff_participants.html", year=year, current=current,
                           sums=sorted(sums.values(), key=lambda s: s.indicator_code), indicators=indicators,
                           texts_fell_back=_falls_back(indicators.values()),
                           rows=participants.mapped_occurrences(year),
                           lang=current_language().code)
