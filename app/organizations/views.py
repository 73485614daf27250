"""Organization pages: directory, registration, public page, profile editing, members, staff review."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from wtforms import SelectChoice

from app.accounts.models import User
from app.core import images
from app.core.districts import District
from app.core.errors import DomainError
from app.core.forms import ActionForm
from app.core.i18n import current_language
from app.core.permissions import Role, role_required
from app.core.time import fiscal_year, today_tokyo
from app.core.transactions import FLASH, VIEW, request_transaction
from app.core.uploads import accepts_uploads
from app.extensions import db
from app.organizations import services
from app.organizations.forms import (
    HandOverForm,
    InviteForm,
    NpoGrantForm,
    OrganizationForm,
    RejectForm,
    RoleForm,
    VerifyForm,
)
from app.organizations.models import Membership, MembershipRole, Organization, VerificationStatus

bp = Blueprint("organizations", __name__, url_prefix="/organizations")

PUBLIC_STATUSES = (VerificationStatus.VERIFIED, VerificationStatus.EXPIRED)


def _get(org_id: int) -> Organization:
    organization = db.get_or_404(Organization, org_id)
    return organization


def _managed(org_id: int) -> Organization:
    organization = _get(org_id)
    if not services.can_manage(current_user, organization):
        abort(403)
    return organization


@bp.get("/")
def index():
    district = request.args.get("district")
    query = sa.select(Organization).where(Organization.status.in_(PUBLIC_STATUSES)).order_by(Organization.name_ja)
    if district in {d.value for d in District}:
        query = query.where(Organization.district == District(district))
    organizations = db.session.scalars(query.limit(500)).all()
    return render_template("organizations/index.html", organizations=organizations, districts=list(District),
                           district=district, lang=current_language().code)


@bp.get("/mine")
@login_required
def mine():
    return render_template("organizations/mine.html", rows=services.organizations_of(current_user),
                           lang=current_language().code)


@bp.route("/new", methods=["GET", "POST"])
@accepts_uploads
@login_required
def new():
    form = OrganizationForm()
    if form.validate_on_submit():
        with request_transaction(errors=form.member_count) as tx:
            organization = services.register_organization(officer=current_user, values=form.values())
        if tx.ok:
            flash(_("団体を登録しました。区の職員が確認するまでお待ちください。"), "success")
            return redirect(url_for("organizations.show", org_id=organization.id), 303)
    return render_template("organizations/form.html", form=form, organization=None), (
        200 if request.method == "GET" else 422)


@bp.get("/<int:org_id>")
def show(org_id: int):
    organization = _get(org_id)
    manager = services.can_manage(current_user, organization)
    if organization.status not in PUBLIC_STATUSES and not manager and not services.membership_of(
            current_user, org_id):
        abort(404)
    return render_template("organizations/show.html", organization=organization, manager=manager,
                           lang=current_language().code)


@bp.get("/<int:org_id>/logo.jpg")
def logo(org_id: int):
    """The group's logo (re-encoded JPEG), for whoever may see the group's page."""
    organization = _get(org_id)
    if organization.status not in PUBLIC_STATUSES and not services.can_manage(current_user, organization) \
            and not services.membership_of(current_user, org_id):
        abort(404)
    # The URL carries ?v=<name>: a new logo is a new URL, so the old one may be cached for a day.
    return images.jpeg_response(images.path_of(organization.logo_name or "", kind="logos"), max_age=86400)


@bp.route("/<int:org_id>/edit", methods=["GET", "POST"])
@accepts_uploads
@login_required
def edit(org_id: int):
    organization = _managed(org_id)
    form = OrganizationForm(obj=organization)
    if request.method == "GET":
        form.kind.data = organization.kind.value
        form.district.data = organization.district.value
    if form.validate_on_submit():
        upload = form.logo.data
        with request_transaction(errors={images.InvalidImage: form.logo, DomainError: form.member_count}) as tx:
            services.update_profile(organization, actor=current_user, values=form.values())
            services.set_logo(organization, actor=current_user, remove=form.remove_logo.data,
                              upload=upload.read() if upload and getattr(upload, "filename", "") else None)
        if tx.ok:
            flash(_("団体の情報を保存しました。"), "success")
            return redirect(url_for("organizations.show", org_id=org_id), 303)
    return render_template("organizations/form.html", form=form, organization=organization), (
        200 if request.method == "GET" else 422)


def _members_page(organization: Organization, status: int = 200, **forms):
    memberships = db.session.scalars(
        sa.select(Membership).where(Membership.organization_id == organization.id).order_by(Membership.id)
    ).all()
    handover = forms.pop("handover_form", None) or HandOverForm(formdata=None)
    handover.successor.choices = [
        SelectChoice(m.id, m.user.display_name) for m in memberships if m.user_id != current_user.id
    ]
    forms.setdefault("invite_form", InviteForm(formdata=None))
    forms.setdefault("npo_form", NpoGrantForm(formdata=None, fiscal_year=_current_fiscal_year()))
    mine = services.membership_of(current_user, organization.id)
    return render_template(
        "organizations/members.html", organization=organization, memberships=memberships, handover_form=handover,
        role_form=RoleForm(formdata=None), action_form=ActionForm(), roles=list(MembershipRole),
        is_officer=mine is not None and mine.role == MembershipRole.OFFICER, **forms,
    ), status


def _current_fiscal_year() -> int:
    return fiscal_year(today_tokyo())


@bp.get("/<int:org_id>/members")
@login_required
def members(org_id: int):
    return _members_page(_managed(org_id))


@bp.post("/<int:org_id>/invite")
@login_required
def invite(org_id: int):
    organization = _managed(org_id)
    form = InviteForm()
    if not form.validate_on_submit():
        return _members_page(organization, 422, invite_form=form)
    with request_transaction(errors=form.email, success=_("招待のメールを送りました。")) as tx:
        services.invite(organization, inviter=current_user, email=form.email.data,
                        role=MembershipRole(form.role.data))
    if tx.failed:
        return _members_page(organization, 422, invite_form=form)
    return redirect(url_for("organizations.members", org_id=org_id), 303)


@bp.post("/<int:org_id>/members/<int:membership_id>/role")
@login_required
def change_role(org_id: int, membership_id: int):
    organization = _managed(org_id)
    form = RoleForm()
    if form.validate_on_submit():
        with request_transaction(errors=FLASH, success=_("役割を変更しました。")):
            services.change_role(organization, actor=current_user, membership_id=membership_id,
                                 role=MembershipRole(form.role.data))
    return redirect(url_for("organizations.members", org_id=org_id), 303)


@bp.post("/<int:org_id>/members/<int:membership_id>/remove")
@login_required
def remove_member(org_id: int, membership_id: int):
    organization = _managed(org_id)
    if ActionForm().validate_on_submit():
        with request_transaction(errors=FLASH, success=_("メンバーを外しました。")):
            services.remove_member(organization, actor=current_user, membership_id=membership_id)
    return redirect(url_for("organizations.members", org_id=org_id), 303)


@bp.post("/<int:org_id>/hand-over")
@login_required
def hand_over(org_id: int):
    organization = _managed(org_id)
    form = HandOverForm()
    form.successor.choices = [SelectChoice(m.id, "") for m in organization.memberships]
    if not form.validate_on_submit():
        return _members_page(organization, 422, handover_form=form)
    with request_transaction(errors=form.successor, success=_("役員を引き継ぎました。")) as tx:
        services.hand_over(organization, officer=current_user, successor_membership_id=form.successor.data,
                           stay_as=MembershipRole(form.stay_as.data))
    if tx.failed:
        return _members_page(organization, 422, handover_form=form)
    return redirect(url_for("organizations.show", org_id=org_id), 303)


@bp.post("/<int:org_id>/npo-grant")
@login_required
def npo_grant(org_id: int):
    organization = _managed(org_id)
    form = NpoGrantForm()
    if not form.validate_on_submit():
        return _members_page(organization, 422, npo_form=form)
    with request_transaction(errors=form.fiscal_year, success=_("NPO活動助成制度の利用を保存しました。")) as tx:
        services.set_npo_grant(organization, fiscal_year=form.fiscal_year.data, uses_grant=form.uses_grant.data)
    if tx.failed:
        return _members_page(organization, 422, npo_form=form)
    return redirect(url_for("organizations.members", org_id=org_id), 303)


@bp.route("/invitations/<token>", methods=["GET", "POST"])
@login_required
def accept_invitation(token: str):
    try:
        invitation = services.invitation_for(token)
    except DomainError as exc:
        return render_template("organizations/invitation_invalid.html", message=exc.message), 400
    form = ActionForm()
    if form.validate_on_submit():
        with request_transaction(errors=VIEW, success=_("団体に参加しました。")) as tx:
            membership = services.accept_invitation(token, user=current_user)
        if tx.failed:
            return render_template("organizations/invitation_invalid.html", message=tx.error.message), 400
        return redirect(url_for("organizations.show", org_id=membership.organization_id), 303)
    return render_template("organizations/invitation.html", invitation=invitation, form=form,
                           lang=current_language().code)


@bp.get("/review")
@role_required(Role.WARD_STAFF)
def review():
    pending = db.session.scalars(
        # Expired groups wait here too: staff renew them with a new term end (or decline).
        sa.select(Organization)
        .where(Organization.status.in_((VerificationStatus.PENDING, VerificationStatus.EXPIRED)))
        .order_by(Organization.id)
    ).all()
    officers: dict[int, list[User]] = {}
    if pending:  # who applied: the officers of each group (one query)
        for organization_id, user in db.session.execute(
                sa.select(Membership.organization_id, User).join(User, User.id == Membership.user_id)
                .where(Membership.organization_id.in_([o.id for o in pending]),
                       Membership.role == MembershipRole.OFFICER).order_by(Membership.id)):
            officers.setdefault(organization_id, []).append(user)
    return render_template("organizations/review.html", pending=pending, officers=officers,
                           verify_form=VerifyForm(formdata=None),
                           reject_form=RejectForm(formdata=None), lang=current_language().code)


@bp.post("/<int:org_id>/verify")
@role_required(Role.WARD_STAFF)
def verify(org_id: int):
    organization = _get(org_id)
    form = VerifyForm()
    if form.validate_on_submit():
        with request_transaction(errors=FLASH, success=_("団体を確認済みにしました。")):
            services.verify_organization(organization, staff=current_user, until=form.verified_until.data)
    else:
        flash(_("登録の有効期限を入力してください。"), "error")
    return redirect(url_for("organizations.review"), 303)


@bp.post("/<int:org_id>/reject")
@role_required(Role.WARD_STAFF)
def reject(org_id: int):
    organization = _get(org_id)
    form = RejectForm()
    if form.validate_on_submit():
        with request_transaction(errors=FLASH, success=_("登録を却下しました。")):
            services.reject_organization(organization, staff=current_user, reason=form.reason.data)
    else:
        flash(_("理由を入力してください。"), "error")
    return redirect(url_for("organizations.review"), 303)

