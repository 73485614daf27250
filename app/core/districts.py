"""Minato's five districts (地区), each with a 総合支所, plus ward-wide."""

from __future__ import annotations

import enum

from flask_babel import lazy_gettext as _l


class District(enum.StrEnum):
    """A 地区; WARD_WIDE (区全域) for what is not tied to one district."""

    SHIBA = "shiba"
    AZABU = "azabu"
    AKASAKA = "akasaka"
    TAKANAWA = "takanawa"
    SHIBAURA_KONAN = "shibaura_konan"
    WARD_WIDE = "ward_wide"

    @property
    def label(self):
        return DISTRICT_LABELS[self]


DISTRICT_LABELS = {
    District.SHIBA: _l("芝地区"),
    District.AZABU: _l("麻布地区"),
    District.AKASAKA: _l("赤坂地区"),
    District.TAKANAWA: _l("高輪地区"),
    District.SHIBAURA_KONAN: _l("芝浦港南地区"),
    District.WARD_WIDE: _l("区全域"),
}


def district_column_type():
    """The column type every table uses for a district."""
    import sqlalchemy as sa

    return sa.Enum(District, native_enum=False, length=32, values_callable=lambda e: [m.value for m in e])
