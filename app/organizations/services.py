"""Rules for groups: registration, staff verification, memberships, invitations and hand-over. Never commits."""

from __future__ import annotations

import hashlib
import secrets
from datetime import date, timedelta

import sqlalchemy as sa
from flask import current_app, url_for
from flask_babel import lazy_gettext as _l

from app.accounts.models import User
from app.core import images, locks
from app.core.audit import record_audit
from app.core.errors import Conflict, DomainError, NotAllowed
from app.core.mail import queue_mail
from app.core.permissions import Role, has_role
from app.core.time import today_tokyo, utcnow
from app.extensions import db
from app.organizations.errors import InvalidInvitation
from app.organizations.models import (
    Invitation,
    Membership,
    MembershipRole,
    NpoGrantUse,
    Organization,
    OrganizationKind,
    VerificationStatus,
)

INVITATION_DAYS = 14
PROFILE_FIELDS = (
    "kind", "district", "name_ja", "name_en", "name_easy", "description_ja", "description_en", "description_easy",
    "public_email", "public_phone", "website_url", "contact_name", "contact_email", "contact_phone",
    "member_count", "shop_count", "in_shotengai_federation",
)


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def membership_of(user, organization_id: int) -> Membership | None:
    """USER's membership of the group, or None (anonymous users have none)."""
    if user is None or not user.is_authenticated:
        return None
    return db.session.scalar(
        sa.select(Membership).where(Membership.organization_id == organization_id, Membership.user_id == user.id)
    )


def can_manage(user, organization: Organization) -> bool:
    """Officers of the group, and ward staff, manage its profile and members."""
    if has_role(user, Role.WARD_STAFF):
        return True
    membership = membership_of(user, organization.id)
    return membership is not None and membership.role == MembershipRole.OFFICER


def can_edit_events(user, organization: Organization) -> bool:
    """Officers and editors write the group's events; ward staff may too."""
    if has_role(user, Role.WARD_STAFF):
        return True
    membership = membership_of(user, organization.id)
    return membership is not None and membership.role in (MembershipRole.OFFICER, MembershipRole.EDITOR)


def _apply_profile(organization: Organization, values: dict) -> None:
    for name in PROFILE_FIELDS:
        if name in values:
            setattr(organization, name, values[name] if values[name] != "" else None)
    if organization.kind != OrganizationKind.SHOPPING_STREET:
        # Only 商店会 have shops and federation membership; keep other kinds clean for the indicators.
        organization.shop_count = None
        organization.in_shotengai_federation = None
    if organization.member_count is not None and organization.member_count < 0:
        raise DomainError(_l("会員数は0以上で入力してください。"))


def register_organization(*, officer: User, values: dict, verified_until: date | None = None) -> Organization:
    """A person registers a group and becomes its first officer; it waits for staff verification.

    Ward staff may register a group already verified by giving VERIFIED_UNTIL.
    """
    organization = Organization(status=VerificationStatus.PENDING)
    _apply_profile(organization, values)
    db.session.add(organization)
    organization.memberships.append(Membership(user_id=officer.id, role=MembershipRole.OFFICER))
    db.session.flush()
    if verified_until is not None:
        if not has_role(officer, Role.WARD_STAFF):
            raise NotAllowed(_l("団体を確認済みにできるのは区の職員だけです。"))
        verify_organization(organization, staff=officer, until=verified_until)
    record_audit("organization.registered", actor_id=officer.id, target_type="organization",
                 target_id=organization.id)
    return organization


def update_profile(organization: Organization, *, actor: User, values: dict) -> None:
    """Change the public profile and private contact."""
    _apply_profile(organization, values)
    if organization.status == VerificationStatus.REJECTED:
        organization.status = VerificationStatus.PENDING  # corrected after a rejection: back in staff's queue
    record_audit("organization.updated", actor_id=actor.id, target_type="organization", target_id=organization.id)


def set_logo(organization: Organization, *, actor: User, upload: bytes | None = None, remove: bool = False) -> None:
    """Replace (UPLOAD: the file's bytes) or REMOVE the group's logo. The upload is checked and re-encoded (EXIF
    and other metadata dropped) by app.core.images; InvalidImage carries the message for the user."""
    if upload:
        organization.logo_name = images.store(upload, kind="logos", max_side=images.LOGO_SIDE)
    elif remove:
        organization.logo_name = None
    else:
        return
    record_audit("organization.logo_changed", actor_id=actor.id, target_type="organization",
                 target_id=organization.id, details={"removed": not upload})


def verify_organization(organization: Organization, *, staff: User, until: date) -> None:
    """Staff confirm a group's registration for a term ending on UNTIL (inclusive)."""
    if until < today_tokyo():
        raise DomainError(_l("登録期限は今日以降の日付にしてください。"))
    organization.status = VerificationStatus.VERIFIED
    organization.verified_until = until
    organization.verified_at = utcnow()
    organization.verified_by_id = staff.id
    organization.rejection_reason = None
    record_audit("organization.verified", actor_id=staff.id, target_type="organization", target_id=organization.id,
                 details={"until": until.isoformat()})
    for officer in officers(organization):
        queue_mail(to=officer.email, subject=_l("団体の登録が確認されました"), template="organizations/verified",
                   language=officer.preferred_language, user=officer, organization=organization,
                   url=current_app.config["BASE_URL"] + url_for("organizations.show", org_id=organization.id))


def reject_organization(organization: Organization, *, staff: User, reason: str) -> None:
    """Staff decline a registration, with a reason the officers read."""
    reason = (reason or "").strip()
    if not reason:
        raise DomainError(_l("理由を入力してください。"))
    if organization.status == VerificationStatus.VERIFIED:
        raise Conflict(_l("確認済みの団体は却下できません。"))
    organization.status = VerificationStatus.REJECTED
    organization.rejection_reason = reason
    record_audit("organization.rejected", actor_id=staff.id, target_type="organization", target_id=organization.id)
    for officer in officers(organization):
        queue_mail(to=officer.email, subject=_l("団体の登録について"), template="organizations/rejected",
                   language=officer.preferred_language, user=officer, organization=organization, reason=reason)


def expire_verifications(*, today: date | None = None) -> int:
    """Mark verified groups whose term ended before TODAY as expired and tell their officers how to renew;
    returns how many."""
    today = today or today_tokyo()
    expired = db.session.scalars(
        sa.select(Organization)
        .where(Organization.status == VerificationStatus.VERIFIED, Organization.verified_until < today)
        .order_by(Organization.id)
        .with_for_update()
    ).all()
    for organization in expired:
        organization.status = VerificationStatus.EXPIRED
        organization.updated_at = utcnow()
        for officer in officers(organization):
            queue_mail(to=officer.email, subject=_l("団体の登録の期限が切れました"), template="organizations/expired",
                       language=officer.preferred_language, user=officer, organization=organization)
    return len(expired)


def set_npo_grant(organization: Organization, *, fiscal_year: int, uses_grant: bool) -> None:
    """Record whether an NPO uses the NPO活動助成制度 in a fiscal year."""
    if organization.kind != OrganizationKind.NPO:
        raise DomainError(_l("NPO活動助成制度はNPO法人だけが登録できます。"))
    if not 2000 <= fiscal_year <= 2100:
        raise DomainError(_l("年度が正しくありません。"))
    row = next((g for g in organization.npo_grants if g.fiscal_year == fiscal_year), None)
    if row is None:
        organization.npo_grants.append(NpoGrantUse(fiscal_year=fiscal_year, uses_grant=uses_grant))
    else:
        row.uses_grant = uses_grant


def officers(organization: Organization) -> list[User]:
    """The group's officers."""
    return list(db.session.scalars(
        sa.select(User).join(Membership, Membership.user_id == User.id)
        .where(Membership.organization_id == organization.id, Membership.role == MembershipRole.OFFICER)
        .order_by(User.id)
    ))


def invite(organization: Organization, *, inviter: User, email: str, role: MembershipRole) -> str:
    """E-mail an invitation to join the group with ROLE; returns the secret token (for tests)."""
    email = email.strip().lower()
    existing = db.session.scalar(
        sa.select(Membership).join(User, User.id == Membership.user_id)
        .where(Membership.organization_id == organization.id, User.email == email)
    )
    if existing is not None:
        raise Conflict(_l("この人はすでに団体のメンバーです。"))
    token = secrets.token_urlsafe(32)
    db.session.add(Invitation(
        organization=organization, email=email, role=role, token_hash=_sha256(token), invited_by_id=inviter.id,
        expires_at=utcnow() + timedelta(days=INVITATION_DAYS),
    ))
    record_audit("organization.invited", actor_id=inviter.id, target_type="organization", target_id=organization.id,
                 details={"role": role.value})
    queue_mail(to=email, subject=_l("団体への招待"), template="organizations/invitation", language=None,
               organization=organization, inviter=inviter, role=role, days=INVITATION_DAYS,
               url=current_app.config["BASE_URL"] + url_for("organizations.accept_invitation", token=token))
    return token


def invitation_for(token: str) -> Invitation:
    """The open invitation for TOKEN, or InvalidInvitation."""
    invitation = db.session.scalar(sa.select(Invitation).where(Invitation.token_hash == _sha256(token)))
    if invitation is None or invitation.accepted_at is not None or invitation.expires_at <= utcnow():
        raise InvalidInvitation(_l("この招待のリンクは使えません。期限切れか、すでに使われています。"))
    return invitation


def accept_invitation(token: str, *, user: User) -> Membership:
    """The signed-in USER joins the group of the invitation (or gets its role if already a member)."""
    invitation = invitation_for(token)
    if invitation.email != user.email:
        raise InvalidInvitation(
            _l("この招待は別のメールアドレスあてです。招待されたアカウントでログインしてください。"))
    invitation.accepted_at = utcnow()
    membership = membership_of(user, invitation.organization_id)
    if membership is None:
        membership = Membership(organization_id=invitation.organization_id, user_id=user.id, role=invitation.role)
        db.session.add(membership)
    else:
        if membership.role == MembershipRole.OFFICER and invitation.role != MembershipRole.OFFICER:
            # An officer (made one since the invitation) accepting a lesser role steps down: never the last one.
            organization = db.session.get(Organization, invitation.organization_id)
            _hold_officers(organization)
            if len(officers(organization)) <= 1:
                raise Conflict(_l("役員が一人もいなくなります。先にほかの人を役員にしてください。"))
        membership.role = invitation.role
    record_audit("organization.joined", actor_id=user.id, target_type="organization",
                 target_id=invitation.organization_id)
    return membership


def change_role(organization: Organization, *, actor: User, membership_id: int, role: MembershipRole) -> None:
    """An officer changes a member's role; the group always keeps at least one officer."""
    _hold_officers(organization)
    membership = _membership(organization, membership_id)
    demoted = membership.role == MembershipRole.OFFICER and role != MembershipRole.OFFICER
    if demoted and len(officers(organization)) <= 1:
        raise Conflict(_l("役員が一人もいなくなります。先にほかの人を役員にしてください。"))
    membership.role = role
    record_audit("organization.role_changed", actor_id=actor.id, target_type="organization",
                 target_id=organization.id, details={"membership": membership.id, "role": role.value})


def remove_member(organization: Organization, *, actor: User, membership_id: int) -> None:
    """Remove a member; the last officer cannot be removed."""
    _hold_officers(organization)
    membership = _membership(organization, membership_id)
    if membership.role == MembershipRole.OFFICER and len(officers(organization)) <= 1:
        raise Conflict(_l("役員が一人もいなくなります。先にほかの人を役員にしてください。"))
    db.session.delete(membership)
    record_audit("organization.member_removed", actor_id=actor.id, target_type="organization",
                 target_id=organization.id)


def hand_over(organization: Organization, *, officer: User, successor_membership_id: int, stay_as: MembershipRole):
    """An officer hands the group over: the successor (a current member) becomes officer, the officer steps
    down to STAY_AS (editor or member) in the same transaction, so the group is never without an officer."""
    _hold_officers(organization)
    current = membership_of(officer, organization.id)
    if current is None or current.role != MembershipRole.OFFICER:
        raise NotAllowed(_l("引き継ぎができるのは役員だけです。"))
    successor = _membership(organization, successor_membership_id)
    if successor.id == current.id:
        raise DomainError(_l("引き継ぐ相手には、ご自身以外のメンバーを選んでください。"))
    successor.role = MembershipRole.OFFICER
    current.role = stay_as
    record_audit("organization.handed_over", actor_id=officer.id, target_type="organization",
                 target_id=organization.id, details={"to_user": successor.user_id})
    queue_mail(to=successor.user.email, subject=_l("団体の役員を引き継ぎました"), template="organizations/handed_over",
               language=successor.user.preferred_language, user=successor.user, organization=organization,
               previous=officer)


def _hold_officers(organization: Organization) -> None:
    """Before counting officers to keep the last one, hold the group's lock (app/core/locks.py): two officers
    demoting or removing each other at once count one after the other, so one of them is refused. Every writer of
    a group's roles that may take an officer away takes it first."""
    locks.advisory_lock("organization-officers", organization.id)


def _membership(organization: Organization, membership_id: int) -> Membership:
    # Read again after the lock: a copy loaded earlier in the request may predate a concurrent change of role.
    membership = db.session.get(Membership, membership_id, populate_existing=True)
    if membership is None or membership.organization_id != organization.id:
        raise DomainError(_l("メンバーが見つかりません。"))
    return membership


def organizations_of(user: User) -> list[tuple[Organization, MembershipRole]]:
    """The groups USER belongs to, with the role."""
    rows = db.session.execute(
        sa.select(Organization, Membership.role).join(Membership, Membership.organization_id == Organization.id)
        .where(Membership.user_id == user.id).order_by(Organization.name_ja)
    )
    return [(org, role) for org, role in rows]
