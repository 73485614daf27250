"""Cells that spreadsheet software will not run as formulas (CSV injection), shared by every CSV export."""

from __future__ import annotations

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralize(value):
    """A cell safe for spreadsheets: text starting like a formula gets a leading apostrophe (CSV injection)."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value
