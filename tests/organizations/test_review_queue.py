"""The verification queue shows what there is to judge, and rejecting is not the primary button."""

from __future__ import annotations

import re

from app.core.permissions import Role
from tests.factories import login, make_user
from tests.organizations.factories import make_organization


def test_the_queue_shows_the_applicant_and_the_description_and_hides_reject(client):
    applicant = make_user(display_name="申請 太郎")
    organization = make_organization(name="新しい町会", verified=False, officer_id=applicant.id,
                                     description_ja="防災訓練と夏祭りをしています。", member_count=120)
    login(client, make_user(role=Role.WARD_STAFF).email)
    page = client.get("/organizations/review").get_data(as_text=True)
    card = re.search(r'<section class="card">.*?</section>', page, re.S).group(0)
    assert "申請 太郎" in card and applicant.email in card
    assert "防災訓練と夏祭りをしています。" in card and "120" in card
    reject = re.search(r'<details class="reject-box">.*?</details>', card, re.S).group(0)
    assert f'action="/organizations/{organization.id}/reject"' in reject
    assert '<button type="submit" class="secondary">' in reject
