"""Katakana readings of Japanese text (名称_カナ columns) with pykakasi, loaded once on first use."""

from __future__ import annotations

import re
import threading
import unicodedata
from functools import lru_cache

_lock = threading.Lock()
_kakasi = None


def _converter():
    global _kakasi
    if _kakasi is None:
        with _lock:  # the dictionaries take a moment to load: once per process, not at import time
            if _kakasi is None:
                import pykakasi

                _kakasi = pykakasi.kakasi()
    return _kakasi


# Words of this ward that pykakasi's dictionary segments or reads wrongly, with their reading: it reads 区民 in
# 「芝浦港南区民センター」 as クタミ, and 白金 (the Minato district) as シロガネ. Matched longest first.
GLOSSARY = {
    "区民": "クミン",
    "白金": "シロカネ",
}
_GLOSSARY_WORDS = re.compile("|".join(sorted(map(re.escape, GLOSSARY), key=len, reverse=True)))


@lru_cache(maxsize=8192)  # titles repeat across occurrences and downloads; a reading never changes
def katakana(text: str | None) -> str:
    """TEXT read in full-width katakana (kanji and hiragana converted; Latin letters and digits kept); the words
    of GLOSSARY take their reading from it, the text between them is converted by pykakasi."""
    if not text:
        return ""
    # NFKC first so half-width katakana and full-width Latin come out in one consistent form.
    normalized = unicodedata.normalize("NFKC", text)
    parts, position = [], 0
    for match in _GLOSSARY_WORDS.finditer(normalized):
        parts += [_pykakasi(normalized[position:match.start()]), GLOSSARY[match.group()]]
        position = match.end()
    parts.append(_pykakasi(normalized[position:]))
    return "".join(parts)


def _pykakasi(text: str) -> str:
    return "".join(part["kana"] for part in _converter().convert(text)) if text else ""

