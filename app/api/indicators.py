"""/api/v1/indicators: the plan's outcome indicators, printed, computed, entered and frozen values (public, no
personal data)."""

from __future__ import annotations

from flask import abort
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from app.api.schemas import decimal_string
from app.indicators import queries, texts
from app.indicators.models import Direction, PlanValueKind, SourceKind

blp = Blueprint(
    "api_indicators",
    __name__,
    description="Outcome indicators (成果指標) of Minato City's basic plan, policies 9 to 14. Public: no token "
    "needed. Decimal values are strings, exactly as printed or entered; null means unknown.",
)


class PlanValueSchema(Schema):
    """A value printed in the plan's table."""

    kind = fields.Enum(PlanValueKind, by_value=True)
    fiscal_year = fields.Integer(metadata={"description": "年度, named by its starting western year"})
    year_label = fields.String(metadata={"description": "the plan's label, e.g. 令和8年度末"})
    value = decimal_string(allow_none=True)
    printed = fields.String(allow_none=True, metadata={"description": "the cell as printed; null when unknown"})
    is_estimate = fields.Boolean(metadata={"description": "見込 (an estimate at the time of printing)"})


class YearlyValueSchema(Schema):
    """A value for one fiscal year: computed from Tsudoi's data, entered by ward staff, or frozen (確定)."""

    fiscal_year = fields.Integer()
    value = decimal_string(allow_none=True, metadata={"description": "null: no data"})
    origin = fields.String(metadata={"description": "computed, manual or snapshot (a frozen year's stored value)"})
    partial = fields.Boolean(metadata={"description": "true while the fiscal year is not over (year to date)"})
    through = fields.Date(allow_none=True, metadata={
        "description": "booking figures of a year not over: the last day counted (today); null for a whole year"})
    booked_ahead = decimal_string(allow_none=True, metadata={
        "description": "booking figures: already booked for the days after `through` up to the year's end (a rate "
                       "of those days' units, or a count of bookings); not part of value"})
    frozen = fields.Boolean()
    completeness = decimal_string(
        allow_none=True,
        metadata={"description": "approved reports / ended mapped occurrences (null when not applicable)"},
    )
    reported = fields.Integer(allow_none=True)
    ended = fields.Integer(allow_none=True)
    source_document = fields.String(allow_none=True)
    source_date = fields.Date(allow_none=True)


class SourceSchema(Schema):
    """Where the indicator's yearly values come from."""

    kind = fields.Enum(SourceKind, by_value=True)
    computed = fields.Boolean(metadata={"description": "true when computed from Tsudoi's own data"})
    rules = fields.List(fields.Dict(), metadata={
        "description": "mapping rules: {match: category|organization_kind|series|ward_relation|room, value}; "
                       "ward_relation matches events ward staff marked (collaboration, support)"
    })


class LatestSchema(Schema):
    """The latest yearly value judged against the target that applies to its year."""

    fiscal_year = fields.Integer()
    value = decimal_string()
    partial = fields.Boolean()
    completeness = decimal_string(allow_none=True)
    through = fields.Date(allow_none=True, metadata={"description": "booking figures: the last day counted"})
    target = fields.Nested(PlanValueSchema, allow_none=True, metadata={
        "description": "the printed target that applies to the value's year: its own (令和7年度 for FY2025 where "
                       "printed, 令和8年度末 for FY2026), else the next one"})
    progress_rate = decimal_string(
        allow_none=True,
        metadata={"description": "(actual - baseline) / (target - baseline); null when the baseline or target is "
                                 "unknown, they are equal, the target is not on the better side of the baseline, "
                                 "or the value is a year-to-date count (compared with the pace instead)"},
    )
    pace = decimal_string(allow_none=True, metadata={
        "description": "what the target implies for the value when it is not judged finally: by today for a "
                       "year-to-date value (the elapsed share of the target for counts, the target for rates), or "
                       "for its year on the line from the baseline for a year before the target's"})
    on_pace = fields.Boolean(allow_none=True, metadata={"description": "the value reached `pace`"})
    judgement = fields.String(allow_none=True, metadata={
        "description": "achieved or not_achieved (or A, B, C when the app is set to three grades) against `target`;"
                       " null if unknown, pending (year to date) or a year before the target's that has not reached"
                       " it (see `pace`)"
    })
    judgement_pending = fields.Boolean(metadata={
        "description": "true when the value is year to date and has not reached the target yet: it is judged "
                       "when the fiscal year ends"
    })


class CatalogTextsSchema(Schema):
    """A text of the catalog in the three languages: Japanese exactly as printed, English and やさしい日本語 from
    the data file (null when not written for this Japanese)."""

    ja = fields.String(required=True, metadata={"description": "as printed"})
    en = fields.String(required=True, allow_none=True)
    easy = fields.String(required=True, allow_none=True, metadata={
        "description": "やさしい日本語; kanji beyond the first school grades carry HTML <ruby> furigana markup"})


class IndicatorSchema(Schema):
    """An indicator as printed in the plan, with its values."""

    code = fields.String()
    policy = fields.Integer()
    measure = fields.String(allow_none=True, metadata={"description": "施策① ...; null for the policy level"})
    measure_title = fields.String(allow_none=True)
    name = fields.String(metadata={"description": "exactly as printed"})
    names = fields.Nested(CatalogTextsSchema, metadata={"description": "the name in the three languages"})
    measure_titles = fields.Nested(CatalogTextsSchema, allow_none=True, metadata={
        "description": "the measure title in the three languages; null for the policy level"})
    policy_titles = fields.Nested(CatalogTextsSchema, metadata={
        "description": "the policy's title in the three languages"})
    unit = fields.String(allow_none=True)
    direction = fields.Enum(Direction, by_value=True)
    source = fields.Nested(SourceSchema)
    midterm_status = fields.String(allow_none=True, metadata={"description": "達成状況 as printed"})
    footnotes = fields.String(allow_none=True, metadata={
        "description": "the plan's footnotes under the table, as printed, separated by ' / '"})
    footnote_texts = fields.Nested(CatalogTextsSchema, allow_none=True, metadata={
        "description": "the footnotes in the three languages (each separated by ' / '); null when none"})
    review_note = fields.String(allow_none=True)
    plan_values = fields.List(fields.Nested(PlanValueSchema))
    yearly_values = fields.List(fields.Nested(YearlyValueSchema))
    latest = fields.Nested(LatestSchema, allow_none=True)


class IndicatorQuerySchema(Schema):
    """Filters of the indicator list."""

    policy = fields.Integer(validate=validate.Range(min=9, max=14))


def _document(summary: queries.Summary) -> dict:
    indicator = summary.indicator
    latest = None
    if summary.latest is not None:
        latest = {
            "fiscal_year": summary.latest.fiscal_year,
            "value": summary.latest.value,
            "partial": summary.latest.partial,
            "completeness": summary.latest.completeness,
            "through": summary.latest.through,
            "target": summary.target,
            "progress_rate": summary.progress,
            "pace": summary.pace_now,
            "on_pace": summary.on_pace,
            "judgement": summary.judgement.value if summary.judgement else None,
            "judgement_pending": summary.pending,
        }
    return {
        "code": indicator.code,
        "policy": indicator.policy,
        "measure": indicator.measure,
        "measure_title": indicator.measure_title,
        "name": indicator.name,
        "names": texts.indicator_texts(indicator, "name"),
        "measure_titles": texts.indicator_texts(indicator, "measure_title"),
        "policy_titles": texts.policy_title_texts(indicator.policy),
        "unit": indicator.unit,
        "direction": indicator.direction,
        "source": {"kind": indicator.source_kind, "computed": indicator.source_kind.is_computed,
                   "rules": [{"match": r.match.value, "value": r.value} for r in indicator.rules]},
        "midterm_status": indicator.midterm_status,
        "footnotes": indicator.footnotes,
        "footnote_texts": texts.indicator_texts(indicator, "footnotes"),
        "review_note": indicator.review_note,
        "plan_values": indicator.plan_values,
        "yearly_values": [
            {"fiscal_year": v.fiscal_year, "value": v.value, "origin": v.origin, "partial": v.partial,
             "through": v.through, "booked_ahead": v.ahead,
             "frozen": v.frozen, "completeness": v.completeness, "reported": v.reported, "ended": v.ended,
             "source_document": v.source_document, "source_date": v.source_date}
            for _year, v in sorted((summary.years or {}).items())
        ],
        "latest": latest,
    }


@blp.route("/indicators")
class IndicatorList(MethodView):
    """Every indicator of policies 9 to 14."""

    @blp.arguments(IndicatorQuerySchema, location="query")
    @blp.response(200, IndicatorSchema(many=True))
    def get(self, args):
        """The indicators in the plan's order, optionally of one policy"""
        policy = args.get("policy")
        return [
            _document(summary)
            for number, summaries in queries.summaries_by_policy()
            if policy is None or number == policy
            for summary in summaries
        ]


@blp.route("/indicators/<code>")
class IndicatorItem(MethodView):
    """One indicator."""

    @blp.response(200, IndicatorSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, code):
        """An indicator by its code (e.g. P09-04-1)"""
        indicator = queries.get_by_code(code)
        if indicator is None:
            abort(404)
        return _document(queries.summary_with_history(indicator))
