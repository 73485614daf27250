"""Check-in: registration codes and QR codes, the organizer's door page, idempotent check-ins, walk-ins."""

from __future__ import annotations

import re
from xml.etree import ElementTree

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from app.core.permissions import Role
from app.events.models import CheckinCode, RegistrationStatus
from app.extensions import db
from app.participation.models import Checkin, CheckinMethod, WalkinCount
from tests.factories import app_context, login, make_user, post_form
from tests.organizations.factories import make_organization
from tests.participation.factories import make_organized, make_registration, today

CODE_RE = re.compile(r'class="ticket-code"><strong>([A-Z0-9]{3}-[A-Z0-9]{3})</strong>')


def _checkins(occurrence_id):
    with app_context():
        return list(db.session.execute(sa.select(Checkin.registration_id, Checkin.method, Checkin.checked_in_by_id)
                                       .where(Checkin.occurrence_id == occurrence_id)).all())


SVG_NS = "{http://www.w3.org/2000/svg}"


def _assert_standalone_svg(data: bytes) -> None:
    """DATA is an SVG document a browser draws in <img>: XML whose root is <svg> in the SVG namespace, sized."""
    root = ElementTree.fromstring(data)  # noqa: S314 -- our own output, parsed to check its shape
    assert root.tag == f"{SVG_NS}svg", root.tag
    assert (root.get("width") and root.get("height")) or root.get("viewBox")
    assert root.get("viewBox") == f"0 0 {root.get('width')} {root.get('height')}"
    assert root.find(f"{SVG_NS}path") is not None or root.find(f"{SVG_NS}g") is not None


def _ticket_code(client, registration_id):
    response = client.get(f"/participation/registrations/{registration_id}/ticket")
    assert response.status_code == 200
    match = CODE_RE.search(response.get_data(as_text=True))
    assert match, "no code on the ticket page"
    return match.group(1)


def test_registrant_sees_a_stable_code_and_an_svg_qr_code(client, app):
    org = make_organized()
    registration_id, _user_id, email = make_registration(org.occurrence_id)
    login(client, email)
    code = _ticket_code(client, registration_id)
    assert _ticket_code(client, registration_id) == code  # created once, then shown again
    with app_context():
        stored = db.session.scalar(sa.select(CheckinCode).where(CheckinCode.registration_id == registration_id))
        assert stored.code == code.replace("-", "") and stored.occurrence_id == org.occurrence_id
    response = client.get(f"/participation/registrations/{registration_id}/qr.svg")
    assert response.status_code == 200
    assert response.mimetype == "image/svg+xml"
    body = response.get_data(as_text=True)
    assert "<svg" in body and "<script" not in body
    _assert_standalone_svg(response.get_data())
    # Someone else cannot see this registration's ticket.
    other = app.test_client()
    login(other, make_user().email)
    assert other.get(f"/participation/registrations/{registration_id}/ticket").status_code == 404
    assert other.get(f"/participation/registrations/{registration_id}/qr.svg").status_code == 404


def test_codes_are_unique_within_an_occurrence(app_ctx):
    org = make_organized()
    # Waitlisted: no code yet (a confirmed registration is given one at once), so the test writes both codes.
    first, _u, _e = make_registration(org.occurrence_id, status=RegistrationStatus.WAITLISTED)
    second, _u, _e = make_registration(org.occurrence_id, status=RegistrationStatus.WAITLISTED)
    db.session.add(CheckinCode(registration_id=first, occurrence_id=org.occurrence_id, code="AAAAAA"))
    db.session.commit()
    db.session.add(CheckinCode(registration_id=second, occurrence_id=org.occurrence_id, code="AAAAAA"))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_officer_checks_in_by_typed_code_once_even_when_sent_twice(client, app):
    org = make_organized(starts_at=today())
    registration_id, _user_id, email = make_registration(org.occurrence_id)
    registrant = app.test_client()
    login(registrant, email)
    code = _ticket_code(registrant, registration_id)
    login(client, org.officer_email)
    url = f"/participation/occurrences/{org.occurrence_id}/checkin"
    # Typed in lower case, with a space instead of the hyphen, in full-width letters: still found.
    typed = code.lower().replace("-", " ")
    response = post_form(client, url, {"code": typed})
    assert response.status_code == 303
    response = post_form(client, url, {"code": code})  # the same person again (double tap)
    assert response.status_code == 303
    assert _checkins(org.occurrence_id) == [(registration_id, CheckinMethod.CODE, org.officer_id)]
    html = client.get(url).get_data(as_text=True)
    assert "すでに受付済みです" in html
    assert re.search(r'id="count-checked-in">1<', html)


def test_qr_payload_checks_in_with_method_qr_and_refuses_another_occurrence(client, app):
    org = make_organized(starts_at=today())
    registration_id, _user_id, email = make_registration(org.occurrence_id)
    registrant = app.test_client()
    login(registrant, email)
    code = _ticket_code(registrant, registration_id).replace("-", "")
    login(client, org.officer_email)
    url = f"/participation/occurrences/{org.occurrence_id}/checkin"
    wrong = post_form(client, url, {"code": f"TSUDOI-CHECKIN:{org.occurrence_id + 999}:{code}", "via": "qr"})
    assert wrong.status_code == 422
    assert "別の開催回の受付番号です" in wrong.get_data(as_text=True)
    assert _checkins(org.occurrence_id) == []
    ok = post_form(client, url, {"code": f"TSUDOI-CHECKIN:{org.occurrence_id}:{code}", "via": "qr"})
    assert ok.status_code == 303
    assert _checkins(org.occurrence_id) == [(registration_id, CheckinMethod.QR, org.officer_id)]


def test_unknown_code_is_a_clear_422_that_keeps_the_typed_code(client):
    org = make_organized(starts_at=today())
    login(client, org.officer_email)
    url = f"/participation/occurrences/{org.occurrence_id}/checkin"
    response = post_form(client, url, {"code": "zzz-999"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "は見つかりません" in html and 'value="zzz-999"' in html
    assert post_form(client, url, {"code": ""}).status_code == 422


def test_a_qr_payload_with_a_digit_python_cannot_read_is_a_foreign_code(client):
    """'²' passes str.isdigit() but not int(): the payload is not ours (422), never a 500."""
    org = make_organized(starts_at=today())
    login(client, org.officer_email)
    url = f"/participation/occurrences/{org.occurrence_id}/checkin"
    response = post_form(client, url, {"code": "TSUDOI-CHECKIN:²:ABC123", "via": "qr"})
    assert response.status_code == 422
    assert "このサービスのものではありません" in response.get_data(as_text=True)


def test_manual_check_in_from_the_list_is_idempotent_and_refuses_the_waitlist(client):
    org = make_organized(starts_at=today())
    registration_id, _u, _e = make_registration(org.occurrence_id)
    waitlisted_id, _u, _e = make_registration(org.occurrence_id, status=RegistrationStatus.WAITLISTED)
    login(client, org.officer_email)
    page = f"/participation/occurrences/{org.occurrence_id}/checkin"
    for _ in range(2):
        response = post_form(client, f"/participation/registrations/{registration_id}/checkin", {}, page=page)
        assert response.status_code == 303
    response = post_form(client, f"/participation/registrations/{waitlisted_id}/checkin", {}, page=page,
                         follow_redirects=True)
    assert "参加確定になっていません" in response.get_data(as_text=True)
    assert _checkins(org.occurrence_id) == [(registration_id, CheckinMethod.MANUAL, org.officer_id)]


def test_walk_in_counter_goes_up_and_down_but_never_below_zero(client):
    org = make_organized(starts_at=today())
    login(client, org.officer_email)
    page = f"/participation/occurrences/{org.occurrence_id}/checkin"
    url = f"/participation/occurrences/{org.occurrence_id}/walkins"
    for delta in ("1", "1", "1", "-1"):
        assert post_form(client, url, {"delta": delta}, page=page).status_code == 303
    with app_context():
        assert db.session.get(WalkinCount, org.occurrence_id).count == 2
    for _ in range(3):
        post_form(client, url, {"delta": "-1"}, page=page)
    with app_context():
        assert db.session.get(WalkinCount, org.occurrence_id).count == 0
    assert post_form(client, url, {"delta": "5"}, page=page).status_code == 400


def test_only_officers_editors_and_ward_staff_run_the_door(app):
    org = make_organized()
    registration_id, _u, _e = make_registration(org.occurrence_id)
    url = f"/participation/occurrences/{org.occurrence_id}/checkin"
    stranger = make_user()
    member = make_user()
    with app_context():
        from app.organizations.models import Membership, MembershipRole

        db.session.add(Membership(organization_id=org.organization_id, user_id=member.id,
                                  role=MembershipRole.MEMBER))
        db.session.commit()
    other_org_officer = make_user()
    make_organization(name="別の町会", officer_id=other_org_officer.id)
    for user in (stranger, member, other_org_officer):
        client = app.test_client()
        login(client, user.email)
        assert client.get(url).status_code == 403
        # The POST is refused before anything is written (the CSRF token comes from a page they can open).
        response = post_form(client, f"/participation/registrations/{registration_id}/checkin", {}, page="/")
        assert response.status_code == 403
        assert post_form(client, f"/participation/occurrences/{org.occurrence_id}/walkins", {"delta": "1"},
                         page="/").status_code == 403
    assert _checkins(org.occurrence_id) == []
    assert app.test_client().get(url).status_code == 302  # anonymous: to the login page
    editor_org = make_organized(editor=True)
    for email, occurrence_id in ((editor_org.officer_email, editor_org.occurrence_id),
                                 (make_user(role=Role.WARD_STAFF).email, org.occurrence_id)):
        client = app.test_client()
        login(client, email)
        assert client.get(f"/participation/occurrences/{occurrence_id}/checkin").status_code == 200


def test_check_in_unique_constraint_is_the_arbiter(app_ctx):
    org = make_organized()
    registration_id, _u, _e = make_registration(org.occurrence_id)
    db.session.add(Checkin(occurrence_id=org.occurrence_id, registration_id=registration_id,
                           method=CheckinMethod.CODE))
    db.session.commit()
    db.session.add(Checkin(occurrence_id=org.occurrence_id, registration_id=registration_id,
                           method=CheckinMethod.QR))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_a_parallel_check_in_that_wins_the_insert_is_returned_not_doubled(app_ctx, monkeypatch):
    from app.accounts.models import User
    from app.events.models import Registration
    from app.participation import checkin

    org = make_organized(starts_at=today())
    registration_id, _u, _e = make_registration(org.occurrence_id)
    # Another request commits its check-in between our read and our insert (the read is made to miss it).
    db.session.add(Checkin(occurrence_id=org.occurrence_id, registration_id=registration_id,
                           method=CheckinMethod.QR))
    db.session.commit()
    registration = db.session.get(Registration, registration_id)
    officer = db.session.get(User, org.officer_id)
    real_scalar = db.session.scalar
    calls = {"n": 0}

    def first_read_misses(statement, *args, **kwargs):
        if "FROM checkins" in str(statement):
            calls["n"] += 1
            if calls["n"] == 1:
                return None
        return real_scalar(statement, *args, **kwargs)

    monkeypatch.setattr(db.session, "scalar", first_read_misses)
    row, created = checkin.check_in(registration=registration, by=officer, method=CheckinMethod.CODE)
    monkeypatch.undo()
    assert calls["n"] == 2  # the read missed, the insert failed, the winner's row was read back
    assert created is False and row.method == CheckinMethod.QR
    db.session.commit()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Checkin)) == 1


def test_links_from_the_event_page_and_my_events(client, app):
    org = make_organized()
    registration_id, _u, email = make_registration(org.occurrence_id)
    login(client, org.officer_email)
    html = client.get(f"/events/{org.series_id}").get_data(as_text=True)
    assert f"/participation/occurrences/{org.occurrence_id}/checkin" in html
    assert f"/participation/occurrences/{org.occurrence_id}/report" in html
    registrant = app.test_client()
    login(registrant, email)
    assert f"/participation/registrations/{registration_id}/ticket" in registrant.get("/events/mine").get_data(
        as_text=True)
    assert "/participation/occurrences/" not in registrant.get(f"/events/{org.series_id}").get_data(as_text=True)


def test_a_mistaken_check_in_can_be_undone_by_the_organizer_only(client, app):
    org = make_organized(starts_at=today())
    registration_id, _u, _e = make_registration(org.occurrence_id)
    login(client, org.officer_email)
    page = f"/participation/occurrences/{org.occurrence_id}/checkin"
    post_form(client, f"/participation/registrations/{registration_id}/checkin", {}, page=page)
    assert "受付を取り消す" in client.get(page).get_data(as_text=True)
    stranger = app.test_client()
    login(stranger, make_user().email)
    assert post_form(stranger, f"/participation/registrations/{registration_id}/uncheck", {},
                     page="/").status_code == 403
    assert len(_checkins(org.occurrence_id)) == 1
    for _ in range(2):  # sent twice: the second does nothing
        response = post_form(client, f"/participation/registrations/{registration_id}/uncheck", {}, page=page)
        assert response.status_code == 303
    assert _checkins(org.occurrence_id) == []
    assert re.search(r'id="count-checked-in">0<', client.get(page).get_data(as_text=True))


def test_confirmation_mail_links_a_ticket_that_works_without_an_account(client, app, outbox):
    org = make_organized()
    resident = make_user()
    login(client, resident.email)
    response = post_form(client, f"/events/occurrences/{org.occurrence_id}/register", {},
                         page=f"/events/{org.series_id}")
    assert response.status_code == 303
    mail = [m for m in outbox if m["To"] == resident.email][0]
    body = mail.get_body(preferencelist=("plain",)).get_content()
    link = re.search(r"http\S*/participation/tickets/(\S+)", body)
    assert link, body
    token = link.group(1)
    anonymous = app.test_client()  # a guest, or the mail opened on another phone
    page = anonymous.get(f"/participation/tickets/{token}")
    assert page.status_code == 200 and CODE_RE.search(page.get_data(as_text=True))
    assert f"/participation/tickets/{token}/qr.svg" in page.get_data(as_text=True)
    qr = anonymous.get(f"/participation/tickets/{token}/qr.svg")
    assert qr.status_code == 200 and qr.mimetype == "image/svg+xml"
    _assert_standalone_svg(qr.get_data())
    assert anonymous.get(f"/participation/tickets/{token}x").status_code == 404
    with app_context():
        from app.events.models import Registration

        db.session.scalar(sa.select(Registration)).status = RegistrationStatus.CANCELLED
        db.session.commit()
    assert anonymous.get(f"/participation/tickets/{token}").status_code == 404


def test_confirmation_mail_carries_the_qr_code_as_an_inline_png_and_my_events_shows_it(client, app, outbox):
    import segno  # noqa: F401 - the mail's image is made by segno

    from app.events import tickets
    from app.events.models import CheckinCode

    org = make_organized()
    resident = make_user()
    login(client, resident.email)
    post_form(client, f"/events/occurrences/{org.occurrence_id}/register", {}, page=f"/events/{org.series_id}")
    mail = [m for m in outbox if m["To"] == resident.email][0]
    images = [part for part in mail.iter_attachments() if part.get_content_type() == "image/png"]
    assert len(images) == 1
    image = images[0]
    assert image.get_content_disposition() == "inline" and image["Content-ID"].startswith("<checkin-qr-")
    png = image.get_content()
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    body = mail.get_body(preferencelist=("plain",)).get_content()
    assert "/participation/tickets/" in body  # the text link stays
    with app_context():
        code = db.session.scalar(sa.select(CheckinCode.code))
        assert tickets.format_code(code) in body
        # The image holds exactly what the door scanner reads: the occurrence and the code, no personal data.
        from app.events.models import Registration

        registration = db.session.scalar(sa.select(Registration))
        assert png == tickets.qr_png(registration)
    html = client.get("/events/mine").get_data(as_text=True)
    assert re.search(rf'<img src="/participation/registrations/{registration.id}/qr.svg"', html)
    waitlisted = [m for m in outbox if m["To"] != resident.email]
    assert all(not any(p.get_content_type() == "image/png" for p in m.iter_attachments()) for m in waitlisted)


def _code_rows() -> int:
    with app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(CheckinCode))


def test_the_ticket_page_writes_nothing(client, app):
    """A GET never writes: the code is made when the registration is confirmed, so a confirmed registration that
    somehow has none (made outside the services) is a 404, not a code created by whoever opens the page."""
    org = make_organized()
    registration_id, _user_id, email = make_registration(org.occurrence_id)
    login(client, email)
    before = _code_rows()
    assert client.get(f"/participation/registrations/{registration_id}/ticket").status_code == 200
    assert client.get(f"/participation/registrations/{registration_id}/qr.svg").status_code == 200
    assert _code_rows() == before
    with app_context():
        db.session.execute(sa.delete(CheckinCode).where(CheckinCode.registration_id == registration_id))
        db.session.commit()
    assert client.get(f"/participation/registrations/{registration_id}/ticket").status_code == 404
    assert _code_rows() == before - 1


def test_a_registration_confirmed_from_the_waitlist_has_its_code_at_once(app, app_ctx):
    from app.events import registrations
    from app.events.models import EventOccurrence, Registration

    org = make_organized()
    waiting, _u, _e = make_registration(org.occurrence_id, status=RegistrationStatus.WAITLISTED)
    assert db.session.get(CheckinCode, waiting) is None
    with app.test_request_context():  # the promotion e-mail links to the event
        promoted = registrations.fill_from_waitlist(db.session.get(EventOccurrence, org.occurrence_id))
    assert [r.id for r in promoted] == [waiting]
    db.session.commit()
    assert db.session.get(Registration, waiting).status == RegistrationStatus.CONFIRMED
    assert db.session.get(CheckinCode, waiting) is not None


def test_the_backfill_migration_gives_every_confirmed_registration_a_code(app):
    """Revision 0023 on data made before it: confirmed registrations without a code get one, unique within their
    occurrence; waitlisted ones and existing codes are left alone."""
    import importlib.util
    import pathlib

    from alembic.migration import MigrationContext
    from alembic.operations import Operations

    org = make_organized()
    confirmed = [make_registration(org.occurrence_id)[0] for _ in range(3)]
    waiting, _u, _e = make_registration(org.occurrence_id, status=RegistrationStatus.WAITLISTED)
    with app_context():
        kept = db.session.get(CheckinCode, confirmed[0]).code
        db.session.execute(sa.delete(CheckinCode).where(CheckinCode.registration_id.in_(confirmed[1:])))
        db.session.commit()
        versions = pathlib.Path(__file__).resolve().parents[2] / "migrations" / "versions"
        path = versions / "0023_checkin_codes_backfill.py"
        spec = importlib.util.spec_from_file_location("backfill_0023", path)
        revision = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(revision)
        with db.engine.begin() as conn, Operations.context(MigrationContext.configure(conn)):
            revision.upgrade()
        codes = dict(db.session.execute(sa.select(CheckinCode.registration_id, CheckinCode.code)).all())
    assert set(codes) == set(confirmed) and waiting not in codes
    assert codes[confirmed[0]] == kept
    assert len(set(codes.values())) == 3 and all(re.fullmatch(r"[A-Z0-9]{6}", c) for c in codes.values())
