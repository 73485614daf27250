"""Katakana readings of Japanese text (名称_カナ columns) with pykakasi, loaded once on first use."""

from __future__ import annotations

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


@lru_cache(maxsize=8192)  # titles repeat across occurrences and downloads; a reading never changes
def katakana(text: str | None) -> str:
    """TEXT read in full-width katakana (kanji and hiragana converted; Latin letters and digits kept)."""
    if not text:
        return ""
    # NFKC first so half-width katakana and full-width Latin come out in one consistent form.
    normalized = unicodedata.normalize("NFKC", text)
    return "".join(part["kana"] for part in _converter().convert(normalized))
