"""POST /api/v1/events answers the same for a group that does not exist and one the caller may not use (#20)."""

from __future__ import annotations

import pytest

from app.events.models import EventStatus
from tests.api.factories import bearer, make_token
from tests.api.test_events import _event_body
from tests.events.factories import make_series
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


def _event_answers(client, method, event_ids, headers, body=None):
    answers = []
    for event_id in event_ids:
        response = client.open(f"/api/v1/events/{event_id}", method=method, json=body, headers=headers)
        answers.append((response.status_code, response.get_json()))
    return answers


@pytest.mark.parametrize("language", ["ja", "en"])
def test_another_groups_draft_answers_like_an_unknown_event(client, language):
    """GET and PATCH of a draft the caller may neither see nor edit answer exactly as an id that names no event:
    a 403 there would tell a stranger which unpublished ids exist."""
    editor = make_user()
    organization = make_organization(editor_id=editor.id)
    draft = make_series(organization_id=organization.id, actor_id=editor.id, status=EventStatus.DRAFT)
    public = make_series(organization_id=organization.id, actor_id=editor.id)
    _tid, stranger = make_token(make_user(language=language))
    headers = {**bearer(stranger), "Accept-Language": language}
    unknown = public.id + draft.id + 1000

    for method, body in (("GET", None), ("PATCH", {"title": {"ja": "乗っ取り"}})):
        draft_answer, unknown_answer = _event_answers(client, method, (draft.id, unknown), headers, body)
        assert draft_answer == unknown_answer, method
        assert draft_answer[0] == 404, method
    # A public event is no secret: the stranger may read it and is told editing is not theirs.
    assert client.get(f"/api/v1/events/{public.id}", headers=headers).status_code == 200
    assert client.patch(f"/api/v1/events/{public.id}", json={"title": {"ja": "乗っ取り"}},
                        headers=headers).status_code == 403
    # The group's editor still edits its draft.
    _tid, own = make_token(editor)
    assert client.patch(f"/api/v1/events/{draft.id}", json={"title": {"ja": "新しい題"}},
                        headers=bearer(own)).status_code == 200
