"""Event pages, one module per job: public pages, registration, organizer pages, staff review, ICS feeds.
Each registers its routes on the one `events` blueprint (common.bp); importing this package registers them all."""

from app.events.views import feeds, organizer, public, registration, review
from app.events.views.common import bp

__all__ = ["bp", "feeds", "organizer", "public", "registration", "review"]
