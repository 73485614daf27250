"""Fixtures shared by the indicator tests: the plan's catalog loaded, and a ward staff member."""

from __future__ import annotations

import pytest

from app.core.permissions import Role
from app.extensions import db
from app.indicators import services
from tests.factories import make_user


@pytest.fixture
def catalog(app):
    with app.app_context():
        services.load_catalog()
        db.session.commit()


@pytest.fixture
def staff_user(catalog):
    return make_user(role=Role.WARD_STAFF, display_name="区職員 佐藤")
