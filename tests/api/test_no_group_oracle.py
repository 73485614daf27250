"""POST /api/v1/events answers the same for a group that does not exist and one the caller may not use (#20)."""

from __future__ import annotations

import pytest

from tests.api.factories import bearer, make_token
from tests.api.test_events import _event_body
from tests.factories import make_user
from tests.organizations.factories import make_organization


@pytest.mark.parametrize("language", ["ja", "en"])
def test_unknown_and_forbidden_groups_get_the_same_answer(client, language):
    editor = make_user()
    listed = make_organization(editor_id=editor.id)
    unlisted = make_organization(verified=False, officer_id=editor.id)
    _tid, stranger = make_token(make_user(language=language))
    headers = {**bearer(stranger), "Accept-Language": language}

    answers = []
    for organization_id in (listed.id, unlisted.id, unlisted.id + 1000):  # the last names no group
        response = client.post("/api/v1/events", json=_event_body(organization_id), headers=headers)
        answers.append((response.status_code, response.get_json()))
    assert answers[0] == answers[1] == answers[2]
    status, body = answers[0]
    assert status == 403
    assert body["error"]["code"] == "forbidden" and body["error"]["field"] == "organization_id"


def test_the_groups_editor_still_creates_the_event(client):
    editor = make_user()
    organization = make_organization(editor_id=editor.id)
    _tid, secret = make_token(editor)
    response = client.post("/api/v1/events", json=_event_body(organization.id), headers=bearer(secret))
    assert response.status_code == 201
