"""/api/v1/events (public list and detail with counts) and registrations for an occurrence (token)."""

from __future__ import annotations

from functools import wraps
from urllib.parse import urlencode

import sqlalchemy as sa
from flask import abort, current_app, request
from flask.views import MethodView
from flask_babel import lazy_gettext as _l
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from app.api.errors import ErrorSchema
from app.api.schemas import BAD_BODY, NUL_422
from app.api.security import current_api_user, token_required
from app.core.converters import ID_MAX
from app.core.districts import District
from app.core.errors import json_error
from app.core.transactions import VIEW, request_transaction
from app.events import errors, queries
from app.events import registrations as registration_services
from app.events import series as series_services
from app.events.models import (
    FOREIGN_LANGUAGES,
    Audience,
    EventCategory,
    EventOccurrence,
    EventSeries,
    Frequency,
    Registration,
    RegistrationStatus,
)
from app.extensions import db
from app.organizations import services as organization_services
from app.organizations.models import Organization

blp = Blueprint(
    "api_events",
    __name__,
    description="Published events (one item per occurrence, with 定員 / 申込 / キャンセル待ち counts) and the caller's "
    "registration for an occurrence: confirmed while seats remain, otherwise waitlisted.",
)


def _choice(values, message):
    return validate.OneOf(list(values), error=str(message))


class EventQuerySchema(Schema):
    from_ = fields.Date(data_key="from", load_default=None)
    to = fields.Date(load_default=None)
    district = fields.String(load_default=None, validate=_choice([d.value for d in District],
                                                                 _l("地区を一覧から選んでください。")))
    category = fields.String(load_default=None, validate=_choice([c.value for c in EventCategory],
                                                                 _l("分類を一覧から選んでください。")))
    audience = fields.String(load_default=None, validate=_choice([a.value for a in Audience],
                                                                 _l("対象を一覧から選んでください。")))
    access = fields.List(
        fields.String(validate=_choice(queries.ACCESSIBILITY, _l("配慮の項目が正しくありません。"))), load_default=list)
    free = fields.Boolean(load_default=False)
    lang = fields.String(load_default=None,
                         validate=_choice(FOREIGN_LANGUAGES, _l("対応言語を一覧から選んでください。")))
    q = fields.String(load_default=None, validate=validate.Length(max=100))
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=10000))
    per_page = fields.Integer(load_default=30, validate=validate.Range(min=1, max=100))


class TextsSchema(Schema):
    ja = fields.String(allow_none=True)
    en = fields.String(allow_none=True)
    easy = fields.String(allow_none=True)


class OrganizerSchema(Schema):
    id = fields.Integer()
    name = fields.String()


class OccurrenceItemSchema(Schema):
    occurrence_id = fields.Integer()
    event_id = fields.Integer()
    title = fields.Nested(TextsSchema)
    starts_at = fields.DateTime()
    ends_at = fields.DateTime()
    status = fields.String(metadata={"description": "scheduled or cancelled"})
    capacity = fields.Integer(allow_none=True)
    confirmed = fields.Integer()
    waitlisted = fields.Integer()
    category = fields.String()
    district = fields.String()
    fee_yen = fields.Integer()
    organizer = fields.Nested(OrganizerSchema)
    url = fields.String()


class OccurrenceSchema(Schema):
    id = fields.Integer()
    starts_at = fields.DateTime()
    ends_at = fields.DateTime()
    status = fields.String()
    capacity = fields.Integer(allow_none=True)
    confirmed = fields.Integer()
    waitlisted = fields.Integer()
    registration_closes_at = fields.DateTime()


class EventSchema(Schema):
    id = fields.Integer()
    status = fields.String()
    title = fields.Nested(TextsSchema)
    title_kana = fields.String(allow_none=True, metadata={"description": "the title's reading in katakana"})
    summary = fields.Nested(TextsSchema)
    description = fields.Nested(TextsSchema)
    category = fields.String()
    audiences = fields.List(fields.String())
    district = fields.String()
    venue_name = fields.String(allow_none=True)
    venue_address = fields.String(allow_none=True)
    online_url = fields.String(allow_none=True)
    fee_yen = fields.Integer()
    fee_note = fields.String(allow_none=True)
    registration_required = fields.Boolean()
    accessibility = fields.List(fields.String())
    foreign_languages = fields.List(fields.String())
    organizer = fields.Nested(OrganizerSchema)
    partners = fields.List(fields.Nested(OrganizerSchema))
    cancel_reason = fields.String(allow_none=True)
    occurrences = fields.List(fields.Nested(OccurrenceSchema))
    url = fields.String()


class RegistrationSchema(Schema):
    id = fields.Integer()
    occurrence_id = fields.Integer()
    status = fields.String(metadata={"description": "confirmed, waitlisted or cancelled"})
    promoted_registration_id = fields.Integer(allow_none=True,
                                              metadata={"description": "who got the freed seat (DELETE only)"})


# ---------------------------------------------------------------- writing (the group's officers and editors)


class TextsInSchema(Schema):
    ja = fields.String(allow_none=True, validate=validate.Length(max=20000))
    en = fields.String(allow_none=True, validate=validate.Length(max=20000))
    easy = fields.String(allow_none=True, validate=validate.Length(max=20000))


class ContactInSchema(Schema):
    name = fields.String(allow_none=True, validate=validate.Length(max=100))
    email = fields.Email(allow_none=True, validate=validate.Length(max=320))
    phone = fields.String(allow_none=True, validate=validate.Length(max=40))


class RecurrenceInSchema(Schema):
    frequency = fields.String(required=True, validate=validate.OneOf([f.value for f in Frequency]))
    first_date = fields.Date(required=True)
    until_date = fields.Date(allow_none=True, load_default=None)
    nth = fields.Integer(allow_none=True, load_default=None, validate=validate.OneOf([1, 2, 3, 4, 5, -1]))
    dates = fields.List(fields.Date(), load_default=list, validate=validate.Length(max=200))


ID_RANGE = validate.Range(min=1, max=ID_MAX)


class EventInSchema(Schema):
    """An event as an organizer writes it; on PATCH every field is optional and the rest stays as stored."""

    organization_id = fields.Integer(validate=ID_RANGE,  # beyond the id column: a 422, not the database's overflow
                                     metadata={"description": "POST only: the group publishing the event"})
    title = fields.Nested(TextsInSchema)
    title_kana = fields.String(allow_none=True, metadata={
        "description": "the title's reading (katakana, ー, ・, spaces; hiragana is converted; null: generated)"})
    summary = fields.Nested(TextsInSchema)
    description = fields.Nested(TextsInSchema)
    category = fields.String()
    audiences = fields.List(fields.String())
    district = fields.String()
    venue_name = fields.String(allow_none=True, validate=validate.Length(max=200))
    venue_address = fields.String(allow_none=True, validate=validate.Length(max=300))
    online_url = fields.URL(allow_none=True, validate=validate.Length(max=500))
    fee_yen = fields.Integer(validate=validate.Range(min=0, max=1_000_000))
    fee_note = fields.String(allow_none=True, validate=validate.Length(max=200))
    registration_required = fields.Boolean()
    capacity = fields.Integer(allow_none=True, validate=validate.Range(min=1, max=100_000))
    registration_opens_at = fields.AwareDateTime(allow_none=True)
    registration_deadline_days = fields.Integer(allow_none=True, validate=validate.Range(min=0, max=365))
    accessibility = fields.List(fields.String(validate=validate.OneOf(queries.ACCESSIBILITY)))
    foreign_languages = fields.List(fields.String())
    contact = fields.Nested(ContactInSchema)
    partner_ids = fields.List(fields.Integer())
    recurrence = fields.Nested(RecurrenceInSchema)
    start_time = fields.Time()
    end_time = fields.Time()
    publish = fields.Boolean(load_default=False, metadata={"description": "publish (or ask for review) now"})
    publish_at = fields.AwareDateTime(allow_none=True, load_default=None)


class EventPatchSchema(EventInSchema):
    """EventIn for PATCH: every field optional (documented apart so the OpenAPI names stay distinct)."""


class CancelInSchema(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000))


def _apply(base: series_services.SeriesInput, data: dict) -> series_services.SeriesInput:
    for field in ("title", "summary", "description"):
        for lang, value in (data.get(field) or {}).items():
            base.texts[f"{field}_{lang}"] = value
    for key in ("title_kana", "category", "audiences", "district", "venue_name", "venue_address", "online_url",
                "fee_yen", "fee_note", "registration_required", "capacity", "registration_opens_at",
                "registration_deadline_days", "foreign_languages", "partner_ids", "start_time", "end_time"):
        if key in data:
            setattr(base, key, data[key])
    if "accessibility" in data:
        base.accessibility = {name: name in data["accessibility"] for name in queries.ACCESSIBILITY}
    if "contact" in data:
        base.contact = {f"contact_{k}": v for k, v in data["contact"].items()}
    if "recurrence" in data:
        rule = data["recurrence"]
        base.frequency, base.first_date = rule["frequency"], rule["first_date"]
        # A PATCH loads partially: the rule's optional keys may be absent (defaults are not applied then).
        base.until_date, base.nth, base.dates = rule.get("until_date"), rule.get("nth"), rule.get("dates") or []
    return base


_EVENT_422 = (
    "Invalid input (`validation_failed`, messages per field in `fields`), or the event form's rules broken "
    "(`invalid`, the input field named in `field`): a past or impossible date, an end before the start, too many "
    f"dates, a missing required field, a partner group that does not exist ...; or {NUL_422}")


def _invalid(exc: errors.InvalidEvent):
    return json_error(422, exc.message, "invalid", field=exc.field)


def _save_and_publish(organization, user, data, series=None):
    base = series_services.input_from_series(series) if series else None
    if base is None:
        missing = [k for k in ("title", "category", "district", "recurrence", "start_time", "end_time")
                   if k not in data]
        if missing:
            return json_error(422, str(_l("入力してください。")), "invalid", field=missing[0])
        base = series_services.SeriesInput(
            texts={}, category="", audiences=[], district="", venue_name=None, venue_address=None,
            online_url=None, fee_yen=0, fee_note=None, registration_required=True, capacity=None,
            registration_opens_at=None, registration_deadline_days=None, accessibility={},
            foreign_languages=[], contact={}, partner_ids=[], frequency="once", first_date=None,
            until_date=None, nth=None, dates=[], start_time=None, end_time=None)
    # An InvalidEvent answers 422 with its field; any other DomainError goes on to the API's error answer.
    with request_transaction(errors={errors.InvalidEvent: VIEW}) as tx:
        saved = series_services.save_series(organization=organization, actor=user, data=_apply(base, data),
                                            series=series)
        if data.get("publish"):
            series_services.submit(saved, actor=user, publish_at=data.get("publish_at"))
        saved_id = saved.id
    if tx.failed:
        return _invalid(tx.error)
    return saved_id


def _texts(series: EventSeries, field: str) -> dict:
    return {"ja": getattr(series, f"{field}_ja"), "en": getattr(series, f"{field}_en"),
            "easy": getattr(series, f"{field}_easy")}


def _url(series_id: int) -> str:
    return f"{current_app.config['BASE_URL']}/events/{series_id}"


def _detail(event_id: int) -> dict:
    """An event with every occurrence and its counts (whatever its status: callers check who may see it)."""
    series = db.session.get(EventSeries, event_id)
    ids = [o.id for o in series.occurrences]
    confirmed = registration_services.confirmed_counts(ids)
    active = registration_services.active_counts(ids)
    return {
        "id": series.id, "status": series.status.value, "title": _texts(series, "title"),
        "title_kana": series.title_kana,
        "summary": _texts(series, "summary"), "description": _texts(series, "description"),
        "category": series.category.value, "audiences": [a.value for a in series.audiences],
        "district": series.district.value, "venue_name": series.venue_name,
        "venue_address": series.venue_address, "online_url": series.online_url, "fee_yen": series.fee_yen,
        "fee_note": series.fee_note, "registration_required": series.registration_required,
        "accessibility": [name for name in queries.ACCESSIBILITY if getattr(series, name)],
        "foreign_languages": series.foreign_language_codes,
        "organizer": {"id": series.organization_id, "name": series.organization.name_ja},
        "partners": [{"id": p.organization.id, "name": p.organization.name_ja} for p in series.partner_rows],
        "cancel_reason": series.cancel_reason,
        "occurrences": [{
            "id": o.id, "starts_at": o.starts_at, "ends_at": o.ends_at,
            "status": "cancelled" if series.status.value == "cancelled" else o.status.value,
            "capacity": o.capacity, "confirmed": confirmed.get(o.id, 0),
            "waitlisted": active.get(o.id, 0) - confirmed.get(o.id, 0),
            "registration_closes_at": registration_services.registration_window(o)[1],
        } for o in series.occurrences],
        "url": _url(series.id),
    }


def _page_url(page: int) -> str:
    """This request's URL with ?page=PAGE (other arguments kept), absolute like the items' urls, for Link."""
    query = [(name, value) for name, value in request.args.items(multi=True) if name != "page"]
    return f"{current_app.config['BASE_URL']}{request.path}?{urlencode([*query, ('page', page)])}"


@blp.route("/events")
class EventList(MethodView):
    @blp.arguments(EventQuerySchema, location="query")
    @blp.response(200, OccurrenceItemSchema(many=True), headers={"Link": {
        "description": "The next and previous pages (RFC 8288: rel=\"next\", rel=\"prev\"), when there are any",
        "schema": {"type": "string"}}})
    def get(self, args):
        """Public occurrences from now on (or from `from`), soonest first, with the same filters as the list page"""
        filters = queries.Filters(
            date_from=args["from_"], date_to=args["to"],
            district=District(args["district"]) if args["district"] else None,
            category=EventCategory(args["category"]) if args["category"] else None,
            audience=Audience(args["audience"]) if args["audience"] else None,
            accessibility=args["access"], free=args["free"], language=args["lang"],
            keyword=(args["q"] or "").strip() or None,
        )
        per_page, page = args["per_page"], args["page"]
        # One more than a page tells whether a next page exists, without counting every match.
        cards = queries.occurrence_cards(filters, limit=per_page + 1, offset=(page - 1) * per_page)
        links = [f'<{_page_url(page + 1)}>; rel="next"'] if len(cards) > per_page else []
        if page > 1:
            links.append(f'<{_page_url(page - 1)}>; rel="prev"')
        items = [{
            "occurrence_id": c.occurrence.id, "event_id": c.series.id, "title": _texts(c.series, "title"),
            "starts_at": c.occurrence.starts_at, "ends_at": c.occurrence.ends_at,
            "status": "cancelled" if c.series.status.value == "cancelled" else c.occurrence.status.value,
            "capacity": c.occurrence.capacity, "confirmed": c.confirmed, "waitlisted": c.waitlisted,
            "category": c.series.category.value, "district": c.series.district.value, "fee_yen": c.series.fee_yen,
            "organizer": {"id": c.series.organization_id, "name": c.series.organization.name_ja},
            "url": _url(c.series.id),
        } for c in cards[:per_page]]
        return items, 200, {"Link": ", ".join(links)} if links else {}

    @token_required
    @blp.alt_response(400, schema=ErrorSchema, description=BAD_BODY)
    @blp.arguments(EventInSchema)
    @blp.response(201, EventSchema)
    @blp.alt_response(403, response="FORBIDDEN")
    @blp.alt_response(422, schema=ErrorSchema, description=_EVENT_422)
    def post(self, data):
        """Create an event for a group the caller edits: a draft, or published (or sent for review) with `publish`"""
        user = current_api_user()
        organization = db.session.get(Organization, data.get("organization_id") or 0)
        if organization is None or not organization_services.can_edit_events(user, organization):
            # One answer for a group that does not exist and one the caller may not use: a different status or
            # message would tell which ids exist (unlisted and unverified groups included).
            return json_error(403, str(_l("この団体のイベントは作れません。団体が見つからないか、権限がありません。")),
                              field="organization_id")
        result = _save_and_publish(organization, user, data)
        if not isinstance(result, int):
            return result
        return _detail(result), 201


def _series_editor_required(func):
    """Load the event of the URL and check the caller edits it (404 / 403) BEFORE the body is validated, so an
    unauthorised call learns nothing from 422 answers. Put it between @token_required and @blp.arguments.
    An event the caller may neither edit nor see (another group's draft) answers 404 like an unknown id, so that
    no one learns which unpublished ids exist; a public event the caller may not edit answers 403."""

    @wraps(func)
    def wrapper(*args, **kwargs):
        series = db.session.get(EventSeries, kwargs.get("event_id") or 0)
        user = current_api_user()
        if series is None or not series_services.is_visible(user, series):
            abort(404)
        if not series_services.can_edit(user, series):
            abort(403)
        return func(*args, **kwargs)

    return wrapper


@blp.route("/events/<int:event_id>")
class EventDetail(MethodView):
    @blp.response(200, EventSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, event_id):
        """One event with every occurrence and its counts"""
        series = db.session.get(EventSeries, event_id)
        if series is None or not series_services.is_visible(None, series):
            abort(404)
        return _detail(event_id)

    @token_required
    @_series_editor_required
    @blp.alt_response(400, schema=ErrorSchema, description=BAD_BODY)
    @blp.arguments(EventPatchSchema(partial=True))
    @blp.response(200, EventSchema)
    @blp.alt_response(403, response="FORBIDDEN")
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(422, schema=ErrorSchema, description=_EVENT_422)
    def patch(self, data, event_id):
        """Change an event (only the fields sent) with the form's rules; occurrences kept where their day stays"""
        user = current_api_user()
        series = db.session.get(EventSeries, event_id)  # exists and is the caller's: _series_editor_required
        result = _save_and_publish(series.organization, user, data, series=series)
        if not isinstance(result, int):
            return result
        return _detail(result)


@blp.route("/occurrences/<int:occurrence_id>/registration")
class OccurrenceRegistration(MethodView):
    @token_required
    @blp.response(201, RegistrationSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, schema=ErrorSchema, description="Already registered, or registration is closed")
    def post(self, occurrence_id):
        """Register the caller: `confirmed` while seats remain, otherwise `waitlisted` (capacity holds under load)"""
        user = current_api_user()
        occurrence = db.session.get(EventOccurrence, occurrence_id)
        if occurrence is None or not series_services.is_visible(None, occurrence.series):
            abort(404)
        with request_transaction():
            registration = registration_services.register(occurrence_id=occurrence_id, user=user)
            result = {"id": registration.id, "occurrence_id": occurrence_id, "status": registration.status.value,
                      "promoted_registration_id": None}
        return result

    @token_required
    @blp.response(200, RegistrationSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, schema=ErrorSchema, description="Already cancelled, or the occurrence has started")
    def delete(self, occurrence_id):
        """Cancel the caller's registration; the first in line is promoted and e-mailed"""
        user = current_api_user()
        registration_id = db.session.scalar(sa.select(Registration.id).where(
            Registration.occurrence_id == occurrence_id, Registration.user_id == user.id,
            Registration.status != RegistrationStatus.CANCELLED))
        if registration_id is None:
            abort(404)
        with request_transaction():
            promoted = registration_services.cancel_registration(registration_id=registration_id, user=user)
            result = {"id": registration_id, "occurrence_id": occurrence_id, "status": "cancelled",
                      "promoted_registration_id": promoted.id if promoted else None}
        return result


@blp.route("/events/<int:event_id>/cancel")
class EventCancel(MethodView):
    @token_required
    @_series_editor_required
    @blp.alt_response(400, schema=ErrorSchema, description=BAD_BODY)
    @blp.arguments(CancelInSchema)
    @blp.response(200, EventSchema)
    @blp.alt_response(403, response="FORBIDDEN")
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, schema=ErrorSchema, description="`conflict`: the event is already cancelled")
    @blp.alt_response(422, schema=ErrorSchema, description=(
        f"`validation_failed` with `fields`; `invalid` with `field: reason` (empty or too long); or {NUL_422}"))
    def post(self, data, event_id):
        """Cancel an event with a reason; registrants are e-mailed and feeds show STATUS:CANCELLED"""
        user = current_api_user()
        series = db.session.get(EventSeries, event_id)  # exists and is the caller's: _series_editor_required
        with request_transaction(errors={errors.InvalidEvent: VIEW}) as tx:
            series_services.cancel_series(series, actor=user, reason=data["reason"])
        if tx.failed:
            return _invalid(tx.error)
        return _detail(event_id)
