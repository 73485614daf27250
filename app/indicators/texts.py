"""The English and やさしい日本語 versions of the catalog's texts (indicator names, policy and measure titles,
footnotes), read from the data files where they stand beside the plan's Japanese (data/indicators.csv,
data/policies.csv). The database keeps only the Japanese as printed; pages look the translations up here.

A translation applies only while the Japanese beside it in the file is the Japanese the database holds: an
indicator whose printed text changed (or that the file does not know) shows its Japanese, with the fallback
notice, rather than a translation of other words. Easy texts carry <ruby> furigana: render them with |ruby.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from app.indicators.catalog import CATALOG_PATH, DATA_DIR

POLICIES_PATH = DATA_DIR / "policies.csv"
FIELDS = ("name", "measure_title", "footnotes")  # the translated texts of an indicator
_SUFFIX = {"en": "en", "ja-easy": "easy"}


@dataclass(frozen=True)
class Texts:
    """One text in the three languages; en and easy are None when not written."""

    ja: str
    en: str | None
    easy: str | None

    def get(self, language: str) -> tuple[str, bool]:
        """The text in LANGUAGE ('ja', 'en', 'ja-easy') and whether the Japanese was shown instead."""
        suffix = _SUFFIX.get(language)
        value = getattr(self, suffix) if suffix else None
        if value:
            return value, False
        return self.ja, suffix is not None

    def as_dict(self) -> dict[str, str | None]:
        return {"ja": self.ja, "en": self.en, "easy": self.easy}


def _opt(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@cache
def catalog_texts(path: Path = CATALOG_PATH) -> dict[str, dict[str, Texts]]:
    """Indicator code -> field -> Texts, for the fields of FIELDS the file has in Japanese."""
    found: dict[str, dict[str, Texts]] = {}
    for row in _rows(path):
        texts = {}
        for field in FIELDS:
            japanese = _opt(row.get(field))
            if japanese is not None:
                texts[field] = Texts(japanese, _opt(row.get(f"{field}_en")), _opt(row.get(f"{field}_easy")))
        found[row["code"].strip()] = texts
    return found


@cache
def policy_texts(path: Path = POLICIES_PATH) -> dict[int, Texts]:
    """Policy number -> its title in the three languages (policies 9 to 14)."""
    return {int(row["policy"]): Texts(row["title"].strip(), _opt(row.get("title_en")), _opt(row.get("title_easy")))
            for row in _rows(path)}


def indicator_text(indicator, field: str, language: str) -> tuple[str | None, bool]:
    """INDICATOR's FIELD ('name', 'measure_title', 'footnotes') in LANGUAGE and whether the Japanese was shown
    instead; (None, False) when the indicator has no such text (a policy-level indicator's measure title)."""
    japanese = getattr(indicator, field)
    if not japanese:
        return None, False
    texts = catalog_texts().get(indicator.code, {}).get(field)
    if texts is None or texts.ja != japanese:
        return japanese, language in _SUFFIX
    return texts.get(language)


def indicator_texts(indicator, field: str) -> dict[str, str | None] | None:
    """FIELD of INDICATOR as {ja, en, easy} (en and easy None when not written for this Japanese); None when the
    indicator has no such text."""
    japanese = getattr(indicator, field)
    if not japanese:
        return None
    texts = catalog_texts().get(indicator.code, {}).get(field)
    if texts is None or texts.ja != japanese:
        return {"ja": japanese, "en": None, "easy": None}
    return texts.as_dict()


def policy_title(policy: int, language: str) -> tuple[str, bool]:
    """The title of POLICY in LANGUAGE and whether the Japanese was shown instead ('' for an unknown policy)."""
    texts = policy_texts().get(policy)
    return texts.get(language) if texts is not None else ("", False)


_CIRCLED = "①②③④⑤⑥⑦⑧⑨⑩"
_MEASURE = {"en": "Measure {number}", "ja-easy": "<ruby>施策<rt>しさく</rt></ruby>{circled}"}


def measure_label(measure: str | None, language: str) -> str | None:
    """The plan's measure mark ('施策①') in LANGUAGE: 'Measure 1' in English, with furigana in easy Japanese;
    as printed in Japanese or when it is not of that form."""
    if not measure or language not in _MEASURE or len(measure) != 3 or measure[:2] != "施策":
        return measure
    circled = measure[2]
    if circled not in _CIRCLED:
        return measure
    return _MEASURE[language].format(number=_CIRCLED.index(circled) + 1, circled=circled)


def policy_title_texts(policy: int) -> dict[str, str | None]:
    """The title of POLICY as {ja, en, easy} (ja '' for a policy the file does not know)."""
    texts = policy_texts().get(policy)
    return texts.as_dict() if texts is not None else {"ja": "", "en": None, "easy": None}


def falls_back(indicators, language: str, policies=()) -> bool:
    """Whether any text of INDICATORS (or of the titles of POLICIES) is shown in Japanese for lack of LANGUAGE."""
    return (any(indicator_text(indicator, field, language)[1] for indicator in indicators for field in FIELDS)
            or any(policy_title(policy, language)[1] for policy in policies))
