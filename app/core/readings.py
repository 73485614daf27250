"""Readings in katakana typed by people (an event's title, a facility's name): one normal form and its rules."""

from __future__ import annotations

import re
import unicodedata

READING_MAX_LENGTH = 200
# Full-width katakana (ァ..ヺ), the long-vowel mark, the middle dot and spaces: what 名称_カナ may hold.
_READING = re.compile(r"[\u30A1-\u30FA\u30FC\u30FB ]+")
_HIRAGANA_TO_KATAKANA = {code: code + 0x60 for code in range(0x3041, 0x3097)}


def clean_reading(text: str | None) -> str | None:
    """A reading typed by a person, in one form: NFKC (half-width kana made full-width), hiragana turned into
    katakana, runs of spaces made one. None when empty; ValueError when other characters remain or it is too long.
    """
    value = " ".join(unicodedata.normalize("NFKC", text or "").translate(_HIRAGANA_TO_KATAKANA).split())
    if not value:
        return None
    if len(value) > READING_MAX_LENGTH or not _READING.fullmatch(value):
        raise ValueError(value)
    return value
