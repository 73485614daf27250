"""Ward staff review of submitted events: the queue, approve, return with a comment."""

from __future__ import annotations

from flask import (
    abort,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user

from app.core.i18n import current_language
from app.core.permissions import Role, role_required
from app.core.transactions import FLASH, request_transaction
from app.events import queries
from app.events import series as series_services
from app.events.forms import (
    ReviewForm,
    WardRelationForm,
)
from app.events.models import (
    EventSeries,
)
from app.events.views.common import bp
from app.extensions import db


@bp.get("/review")
@role_required(Role.WARD_STAFF)
def review():
    return render_template("events/review.html", queue=queries.review_queue(), form=ReviewForm(formdata=None),
                           lang=current_language().code)


@bp.post("/<int:series_id>/approve")
@role_required(Role.WARD_STAFF)
def approve(series_id: int):
    series = db.session.get(EventSeries, series_id) or abort(404)
    if ReviewForm().validate_on_submit():
        with request_transaction(errors=FLASH, success=_("公開しました。")):
            series_services.approve(series, staff=current_user)
    return redirect(url_for("events.review"), 303)


@bp.post("/<int:series_id>/return")
@role_required(Role.WARD_STAFF)
def return_to_draft(series_id: int):
    series = db.session.get(EventSeries, series_id) or abort(404)
    form = ReviewForm()
    if form.validate_on_submit():
        with request_transaction(errors=FLASH, success=_("コメントを付けて団体に戻しました。")):
            series_services.return_to_draft(series, staff=current_user, comment=form.comment.data)
    return redirect(url_for("events.review"), 303)


@bp.get("/ward-relations")
@role_required(Role.WARD_STAFF)
def ward_relations():
    """Ward staff: released events and how the ward stands to each (区と連携・協働 / 区が支援), to mark them;
    indicator P09-05-1 counts the marked ones."""
    marked_only = request.args.get("marked") == "1"
    return render_template("events/ward_relations.html", events=queries.ward_relation_list(marked_only=marked_only),
                           marked_only=marked_only, limit=queries.WARD_RELATION_LIMIT,
                           form=WardRelationForm(formdata=None))


@bp.post("/<int:series_id>/ward-relation")
@role_required(Role.WARD_STAFF)
def set_ward_relation(series_id: int):
    """Ward staff: mark one event 区と連携・協働, 区が支援 or neither (audited)."""
    series = db.session.get(EventSeries, series_id) or abort(404)
    form = WardRelationForm()
    if form.validate_on_submit():
        with request_transaction(errors=FLASH, success=_("区との関係を保存しました。")):
            series_services.set_ward_relation(series, form.ward_relation.data, staff=current_user)
    return redirect(url_for("events.ward_relations") + f"#event-{series.id}", 303)
