"""Guest registration mails the address typed in: it is limited per recipient, as sign-up and forgot-password (#20)."""

from __future__ import annotations

from tests.events.factories import make_series, occurrence_ids
from tests.factories import csrf_from, make_user
from tests.organizations.factories import make_organization


def _guest(app, url: str, email: str, ip: str):
    client = app.test_client()
    environ = {"REMOTE_ADDR": ip}
    html = client.get(url, environ_base=environ).get_data(as_text=True)
    return client.post(url, data={"csrf_token": csrf_from(html), "name": "山田", "email": email},
                       environ_base=environ)


def test_one_mailbox_cannot_be_flooded_through_guest_registration(app, outbox):
    editor = make_user()
    org = make_organization(editor_id=editor.id)
    series = make_series(organization_id=org.id, actor_id=editor.id, capacity=50)
    url = f"/events/occurrences/{occurrence_ids(series.id)[0]}/guest"
    outbox.clear()
    for n in range(3):  # each from another client address, so the per-IP limit never applies
        assert _guest(app, url, "victim@example.jp", f"192.0.2.{n + 1}").status_code == 200
    assert len(outbox) == 3
    response = _guest(app, url, "Victim@Example.jp ", "192.0.2.99")
    assert response.status_code == 429
    assert len(outbox) == 3
    # Another address from the same client still gets its mail.
    assert _guest(app, url, "other@example.jp", "192.0.2.99").status_code == 200
    assert outbox[-1]["To"] == "other@example.jp"
