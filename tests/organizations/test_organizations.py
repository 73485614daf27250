"""Organizations: registration, staff verification, memberships, invitations, hand-over, NPO grant use."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from app.accounts.models import User
from app.core.districts import District
from app.core.errors import Conflict
from app.core.permissions import Role
from app.core.time import utcnow
from app.extensions import db
from app.organizations import services
from app.organizations.models import (
    Invitation,
    Membership,
    MembershipRole,
    NpoGrantUse,
    Organization,
    VerificationStatus,
)
from tests.factories import app_context, detach, login, make_user, post_form
from tests.organizations.factories import make_organization


def _org(org_id):
    with app_context():
        return detach(db.session.get(Organization, org_id))


def _roles(org_id):
    with app_context():
        return {m.user_id: m.role for m in db.session.scalars(
            sa.select(Membership).where(Membership.organization_id == org_id))}


def test_register_then_staff_verifies_with_term(client, app, outbox):
    officer = make_user(email="officer@example.jp")
    login(client, officer.email)
    response = post_form(client, "/organizations/new", {
        "kind": "shopping_street", "district": "azabu", "name_ja": "麻布十番商店会", "member_count": "40",
        "shop_count": "120", "in_shotengai_federation": "y", "contact_email": "private@example.jp",
    })
    assert response.status_code == 303
    org_id = int(response.headers["Location"].rstrip("/").split("/")[-1])
    org = _org(org_id)
    assert org.status == VerificationStatus.PENDING
    assert (org.shop_count, org.in_shotengai_federation, org.member_count) == (120, True, 40)
    assert _roles(org_id) == {officer.id: MembershipRole.OFFICER}
    # Pending groups are not public.
    anonymous = app.test_client()
    assert anonymous.get(f"/organizations/{org_id}").status_code == 404

    # A resident cannot verify; staff can.
    assert post_form(client, f"/organizations/{org_id}/verify", {"verified_until": "2030-03-31"},
                     page="/organizations/").status_code == 403
    staff = make_user(email="staff@example.jp", role=Role.WARD_STAFF)
    staff_client = app.test_client()
    login(staff_client, staff.email)
    assert "麻布十番商店会" in staff_client.get("/organizations/review").get_data(as_text=True)
    until = date.today() + timedelta(days=365)
    post_form(staff_client, f"/organizations/{org_id}/verify", {"verified_until": until.isoformat()},
              page="/organizations/review")
    org = _org(org_id)
    assert org.status == VerificationStatus.VERIFIED and org.verified_until == until
    assert any(m["To"] == officer.email for m in outbox)
    page = anonymous.get(f"/organizations/{org_id}").get_data(as_text=True)
    assert "麻布十番商店会" in page and "private@example.jp" not in page


def test_shop_fields_cleared_for_other_kinds(app_ctx):
    officer = make_user()
    org = services.register_organization(officer=db.session.get(User, officer.id), values={
        "kind": services.OrganizationKind.NPO, "district": District.SHIBA,
        "name_ja": "NPO", "shop_count": 5, "in_shotengai_federation": True})
    assert org.shop_count is None and org.in_shotengai_federation is None
    assert org.status == VerificationStatus.PENDING


def test_reject_needs_reason_and_tells_officer(client, app, outbox):
    officer = make_user(email="o2@example.jp")
    org = make_organization(verified=False, officer_id=officer.id)
    staff = make_user(role=Role.WARD_STAFF)
    login(client, staff.email)
    post_form(client, f"/organizations/{org.id}/reject", {"reason": ""}, page="/organizations/review")
    assert _org(org.id).status == VerificationStatus.PENDING
    post_form(client, f"/organizations/{org.id}/reject", {"reason": "区内の会員が確認できません"},
              page="/organizations/review")
    org = _org(org.id)
    assert org.status == VerificationStatus.REJECTED and org.rejection_reason == "区内の会員が確認できません"
    assert any("区内の会員が確認できません" in m.get_content() for m in outbox if m["To"] == officer.email)


def test_verification_expires_after_term(app_ctx):
    org = make_organization()
    with app_context():
        db.session.get(Organization, org.id).verified_until = date(2026, 3, 31)
        db.session.commit()
        assert services.expire_verifications(today=date(2026, 3, 31)) == 0
        assert services.expire_verifications(today=date(2026, 4, 1)) == 1
        db.session.commit()
        assert db.session.get(Organization, org.id).status == VerificationStatus.EXPIRED


def test_invitation_by_email_then_hand_over(client, app, outbox):
    officer = make_user(email="old@example.jp")
    successor = make_user(email="new@example.jp")
    org = make_organization(officer_id=officer.id)
    login(client, officer.email)
    response = post_form(client, f"/organizations/{org.id}/invite", {"email": "NEW@example.jp", "role": "editor"},
                         page=f"/organizations/{org.id}/members")
    assert response.status_code == 303
    mail = next(m for m in outbox if m["To"] == "new@example.jp")
    link = re.search(r"https?://\S+/organizations/invitations/\S+", mail.get_content()).group(0)
    path = link.split("localhost", 1)[1]

    # Someone else cannot use it.
    intruder = make_user(email="intruder@example.jp")
    other = app.test_client()
    login(other, intruder.email)
    assert post_form(other, path, {}).status_code == 400

    new_client = app.test_client()
    login(new_client, successor.email)
    assert post_form(new_client, path, {}).status_code == 303
    assert _roles(org.id)[successor.id] == MembershipRole.EDITOR
    assert post_form(new_client, path, {}, page="/").status_code == 400  # used once

    with app_context():
        membership_id = db.session.scalar(sa.select(Membership.id).where(Membership.user_id == successor.id))
    response = post_form(client, f"/organizations/{org.id}/hand-over",
                         {"successor": str(membership_id), "stay_as": "member"},
                         page=f"/organizations/{org.id}/members")
    assert response.status_code == 303
    assert _roles(org.id) == {officer.id: MembershipRole.MEMBER, successor.id: MembershipRole.OFFICER}
    # The former officer no longer manages the group.
    assert client.get(f"/organizations/{org.id}/members").status_code == 403


def test_last_officer_cannot_step_down(client):
    officer = make_user()
    org = make_organization(officer_id=officer.id)
    with app_context():
        membership_id = db.session.scalar(sa.select(Membership.id).where(Membership.user_id == officer.id))
    login(client, officer.email)
    post_form(client, f"/organizations/{org.id}/members/{membership_id}/role", {"role": "member"},
              page=f"/organizations/{org.id}/members")
    assert _roles(org.id) == {officer.id: MembershipRole.OFFICER}


def test_npo_grant_per_fiscal_year(client):
    officer = make_user()
    org = make_organization(kind=services.OrganizationKind.NPO, officer_id=officer.id)
    login(client, officer.email)
    page = f"/organizations/{org.id}/members"
    post_form(client, f"/organizations/{org.id}/npo-grant", {"fiscal_year": "2026", "uses_grant": "y"}, page=page)
    post_form(client, f"/organizations/{org.id}/npo-grant", {"fiscal_year": "2027"}, page=page)
    post_form(client, f"/organizations/{org.id}/npo-grant", {"fiscal_year": "2026", "uses_grant": "y"}, page=page)
    bad = post_form(client, f"/organizations/{org.id}/npo-grant", {"fiscal_year": "abc"}, page=page)
    assert bad.status_code == 422
    with app_context():
        rows = {g.fiscal_year: g.uses_grant for g in db.session.scalars(sa.select(NpoGrantUse))}
    assert rows == {2026: True, 2027: False}


def test_members_page_needs_officer(client):
    officer = make_user()
    editor = make_user()
    org = make_organization(officer_id=officer.id, editor_id=editor.id)
    assert client.get(f"/organizations/{org.id}/members").status_code == 302  # to login
    login(client, editor.email)
    assert client.get(f"/organizations/{org.id}/members").status_code == 403
    assert post_form(client, f"/organizations/{org.id}/invite", {"email": "x@example.jp", "role": "officer"},
                     page="/organizations/").status_code == 403


def test_bad_input_keeps_what_was_typed(client):
    user = make_user()
    login(client, user.email)
    response = post_form(client, "/organizations/new", {
        "kind": "npo", "district": "shiba", "name_ja": "", "description_ja": "説明はそのまま残る",
        "member_count": "-3",
    })
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "説明はそのまま残る" in html and "入力してください" in html
    with app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Organization)) == 0


def test_the_daily_job_expires_verifications_by_the_tokyo_day_and_tells_officers(app_ctx, outbox):
    from datetime import UTC, datetime

    from app.core.jobs import run_due

    officer = make_user(email="chair@example.jp")
    org = make_organization(name="高齢化町会", officer_id=officer.id)
    with app_context():
        db.session.get(Organization, org.id).verified_until = date(2026, 3, 31)
        db.session.commit()
        # 2026-04-01 00:30 in Tokyo is still March 31 in UTC: the Tokyo day decides.
        outcomes = run_due(now=datetime(2026, 3, 31, 15, 30, tzinfo=UTC),
                           only={"organizations.expire-verifications", "mail.send-pending"})
        assert [(o.status, o.result) for o in outcomes if o.job == "organizations.expire-verifications"] \
            == [("succeeded", "1")]
        db.session.expire_all()
        assert db.session.get(Organization, org.id).status == VerificationStatus.EXPIRED
    mails = [m for m in outbox if m["To"] == "chair@example.jp"]
    assert len(mails) == 1 and "高齢化町会" in mails[0].get_content() and "2026-03-31" in mails[0].get_content()


def test_expired_groups_wait_in_the_review_queue_for_renewal(client, app):
    org = make_organization(name="期限切れ町会")
    with app_context():
        db.session.get(Organization, org.id).status = VerificationStatus.EXPIRED
        db.session.commit()
    staff = make_user(role=Role.WARD_STAFF)
    login(client, staff.email)
    html = client.get("/organizations/review").get_data(as_text=True)
    assert "期限切れ町会" in html and "登録期限切れ" in html
    until = date.today() + timedelta(days=365)
    post_form(client, f"/organizations/{org.id}/verify", {"verified_until": until.isoformat()},
              page="/organizations/review")
    renewed = _org(org.id)
    assert renewed.status == VerificationStatus.VERIFIED and renewed.verified_until == until
    assert "期限切れ町会" not in client.get("/organizations/review").get_data(as_text=True)


def test_a_rejected_group_corrected_by_its_officer_goes_back_to_review(client, app):
    officer = make_user()
    org = make_organization(name="却下された会", verified=False, officer_id=officer.id)
    with app_context():
        row = db.session.get(Organization, org.id)
        row.status, row.rejection_reason = VerificationStatus.REJECTED, "会員数が不明です"
        db.session.commit()
    login(client, officer.email)
    response = post_form(client, f"/organizations/{org.id}/edit", {
        "kind": "neighborhood_association", "district": "shiba", "name_ja": "却下された会", "member_count": "35"})
    assert response.status_code == 303
    assert _org(org.id).status == VerificationStatus.PENDING
    staff_client = app.test_client()
    login(staff_client, make_user(role=Role.WARD_STAFF).email)
    assert "却下された会" in staff_client.get("/organizations/review").get_data(as_text=True)


def test_the_last_officer_accepting_an_older_invitation_as_member_stays_officer(app_ctx):
    founder, invited = make_user(), make_user()
    org = make_organization(officer_id=founder.id)
    token = "older-invitation-token"
    db.session.add(Invitation(organization_id=org.id, email=invited.email, role=MembershipRole.MEMBER,
                              token_hash=services._sha256(token), invited_by_id=founder.id,
                              expires_at=utcnow() + timedelta(days=7)))
    # Meanwhile the invited person joined as officer, and the founder left.
    db.session.add(Membership(organization_id=org.id, user_id=invited.id, role=MembershipRole.OFFICER))
    db.session.execute(sa.delete(Membership).where(Membership.user_id == founder.id))
    db.session.commit()
    user = db.session.get(User, invited.id)
    with pytest.raises(Conflict):
        services.accept_invitation(token, user=user)
    db.session.rollback()
    assert [u.id for u in services.officers(db.session.get(Organization, org.id))] == [invited.id]
