"""Facility pages: public (list, facility), photos and name readings (staff). Each module registers its routes on
the one `facilities` blueprint (common.bp); importing this package registers them all. The availability pages
read booking claims and live in app/bookings/availability_views.py."""

from app.facilities.views import photos, public, reading
from app.facilities.views.common import bp

__all__ = ["bp", "photos", "public", "reading"]
