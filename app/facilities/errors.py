"""Domain errors of facilities: the rules a request can break, each with its HTTP status (views turn them into form
errors or pages, the API into JSON)."""

from __future__ import annotations

from app.core.errors import DomainError


class ClosureError(DomainError):
    status_code = 422
    code = "closure_invalid"


class FacilityError(DomainError):
    status_code = 422
    code = "facility_invalid"


class PhotoError(DomainError):
    status_code = 422
    code = "photo_invalid"
