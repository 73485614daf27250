"""The shared query-argument readers (app/core/args.py) and the small shared formatters."""

from __future__ import annotations

from datetime import date

import pytest
from flask import Flask
from werkzeug.exceptions import NotFound

from app.core.args import date_arg, enum_arg, id_arg
from app.core.db import rows_by_id
from app.core.districts import District
from app.core.time import hhmm

FLASK = Flask(__name__)  # the readers need a request, not the app or its database


def _with(query: str):
    return FLASK.test_request_context(f"/?{query}")


@pytest.mark.parametrize(("query", "expected"), [
    ("", None), ("x=", None), ("x=7", 7), ("x=0", None), ("x=-3", None), ("x=abc", None), ("x=%C2%B2", None),
    (f"x={2**63}", None), ("x=%EF%BC%97", None),
])
def test_id_arg_reads_only_ids_a_column_can_hold(query, expected):
    with _with(query):
        assert id_arg("x") == expected


def test_id_arg_strict_is_a_404_for_a_value_that_is_not_an_id_but_none_when_absent():
    with _with("x=%C2%B2"), pytest.raises(NotFound):
        id_arg("x", strict=True)
    with _with(""):
        assert id_arg("x", strict=True) is None


@pytest.mark.parametrize(("query", "expected"), [
    ("", (date(2026, 12, 7), None)), ("d=2026-12-10", (date(2026, 12, 10), None)),
    ("d=2026-13-01", (date(2026, 12, 7), "format")), ("d=tomorrow", (date(2026, 12, 7), "format")),
    ("d=9999-12-31", (date(2026, 12, 7), "range")), ("d=2026-12-06", (date(2026, 12, 7), "range")),
    ("d=2027-12-07", (date(2027, 12, 7), None)),
])
def test_date_arg_says_why_it_fell_back(query, expected):
    with _with(query):
        assert date_arg("d", default=date(2026, 12, 7), first=date(2026, 12, 7), last=date(2027, 12, 7)) == expected


def test_enum_arg():
    with _with("district=shiba&bad=nowhere"):
        assert enum_arg("district", District) == District("shiba")
        assert enum_arg("bad", District) is None
        assert enum_arg("missing", District) is None


def test_hhmm_and_rows_by_id():
    assert [hhmm(m) for m in (0, 540, 1290, 1439)] == ["00:00", "09:00", "21:30", "23:59"]

    class Row:
        def __init__(self, id):  # noqa: A002 - the attribute rows_by_id reads
            self.id = id

    rows = [Row(3), Row(1)]
    assert rows_by_id(rows) == {3: rows[0], 1: rows[1]} and list(rows_by_id(rows)) == [3, 1]
