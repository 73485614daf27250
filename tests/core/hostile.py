"""What the hostile-input tests share: the matrix's world built once per module, its rows' URLs, and the
exception behind a 500 (the app logs it; under TESTING the client re-raises it)."""

from __future__ import annotations

import logging

from tests.core import test_authorization_matrix as matrix
from tests.core.authz_world import build_world, remove_images

SCRIPT = "<script>alert(1)</script>"


def matrix_row(endpoint: str, method: str, label: str | None = None) -> matrix.Row:
    """The matrix's row of ENDPOINT and METHOD: the one with LABEL, else the unlabelled one, else the first."""
    rows = [row for row in matrix.TABLE if row.endpoint == endpoint and row.method == method]
    assert rows, f"{endpoint} has no {method} row in the authorization matrix"
    if label is not None:
        return next(row for row in rows if row.label == label)
    return next((row for row in rows if not row.label), rows[0])


def row_path(world, row: matrix.Row, *, query: bool = True) -> str:
    """The URL of ROW in WORLD: its path parameters filled in, and its base query unless QUERY is false."""
    values = {**matrix._resolve(row.kwargs, world), **(matrix._resolve(row.query, world) if query else {})}
    return world.app.url_map.bind("localhost").build(row.endpoint, values, method=row.method)


class ErrorNote(logging.Handler):
    """Keeps the exceptions the app's 500 handler logs, for the failure message."""

    def __init__(self):
        super().__init__()
        self.errors: list[Exception] = []

    def emit(self, record) -> None:
        if record.exc_info:
            self.errors.append(record.exc_info[1])


class Crash:
    """A request the app did not answer (the exception propagated): stands in for the 500 a visitor would get."""

    status_code = 500
    mimetype = None
    headers: dict = {}

    def __init__(self, error: Exception):
        self.error = error

    def get_data(self, as_text: bool = False):
        return "" if as_text else b""

    def close(self) -> None:
        pass


def shared_world(app):
    """Generator for a module-scoped fixture: the matrix's world (`w.app` set), emptied afterwards."""
    from app.extensions import limiter
    from tests.conftest import _empty_tables

    w = build_world(app)
    w.app = app
    try:
        yield w
    finally:
        remove_images(w)
        _empty_tables(app)
        limiter.reset()
        app.extensions.get("mail_delivered", []).clear()
