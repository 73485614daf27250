"""Roles and the decorators that guard views."""

from __future__ import annotations

import enum
from functools import wraps

from flask import abort
from flask_login import current_user, login_required


class Role(enum.StrEnum):
    """Global roles. Everyone signed in is a resident; staff roles add to that.

    Organization roles (officer, editor, member) live on memberships; facility staff are scoped to facilities
    through their assignments.
    """

    RESIDENT = "resident"
    FACILITY_STAFF = "facility_staff"
    WARD_STAFF = "ward_staff"
    ADMIN = "admin"


ROLE_RANK = {Role.RESIDENT: 0, Role.FACILITY_STAFF: 1, Role.WARD_STAFF: 2, Role.ADMIN: 3}


def has_role(user, *roles: Role) -> bool:
    """True when USER holds one of ROLES; admin holds every role."""
    if user is None or not user.is_authenticated:
        return False
    return user.role == Role.ADMIN or user.role in roles


def role_required(*roles: Role):
    """View decorator: sign-in required, then one of ROLES, else 403."""

    def decorator(view):
        @wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            if not has_role(current_user, *roles):
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator
