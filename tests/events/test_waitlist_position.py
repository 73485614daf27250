"""The waitlist position: the officer sees each waiting person's place, and the person sees their own."""

from __future__ import annotations

from app.events.models import Registration, RegistrationStatus
from app.extensions import db
from tests.factories import app_context, login
from tests.participation.factories import make_organized, make_registration


def test_the_officer_and_the_person_see_the_place_in_the_waitlist(client):
    org = make_organized()
    make_registration(org.occurrence_id)
    first, _u1, _e1 = make_registration(org.occurrence_id, status=RegistrationStatus.WAITLISTED)
    _second, _u2, second_email = make_registration(org.occurrence_id, status=RegistrationStatus.WAITLISTED)

    login(client, org.officer_email)
    page = client.get(f"/events/occurrences/{org.occurrence_id}/registrations").get_data(as_text=True)
    assert "(1番目)" in page and "(2番目)" in page and "(3番目)" not in page

    other = client.application.test_client()
    login(other, second_email)
    assert "2番目" in other.get("/events/mine").get_data(as_text=True)

    with app_context():  # the first in line leaves: the second moves up
        db.session.get(Registration, first).status = RegistrationStatus.CANCELLED
        db.session.commit()
    mine = other.get("/events/mine").get_data(as_text=True)
    assert "1番目" in mine and "2番目" not in mine

