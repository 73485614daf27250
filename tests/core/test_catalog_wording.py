"""What the translations say, not only that they exist: limits keep their boundary (以上 is "at least", never
"more than"). The rules for wording are in docs/i18n.md."""

from __future__ import annotations

import csv
import re
from functools import cache
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
TRANSLATIONS = ROOT / "app" / "translations"
CATALOGS = {
    "en": TRANSLATIONS / "en" / "LC_MESSAGES" / "messages.po",
    "ja-easy": TRANSLATIONS / "ja" / "LC_MESSAGES" / "easy.po",
}


@cache
def catalog(code: str):
    with open(CATALOGS[code], "rb") as fileobj:
        return read_po(fileobj)


def entries(code: str):
    """(message id, context, [translations]) for every translated entry."""
    for entry in catalog(code):
        if not entry.id:
            continue
        message_id = entry.id[0] if isinstance(entry.id, (list, tuple)) else entry.id
        strings = list(entry.string) if isinstance(entry.string, (list, tuple)) else [entry.string]
        yield message_id, entry.context, [text for text in strings if text]


KANJI = re.compile(r"[\u3400-\u9fff々]")


def plain(text: str) -> str:
    """The easy text as read: furigana <rt> dropped, tags removed."""
    return re.sub(r"<[^>]+>", "", re.sub(r"<rt>.*?</rt>", "", text))


# --- (a) limits keep their boundary -----------------------------------------------------------------------
#
# 以上 (N or more) and 以下/以内 (N or fewer) include N; 未満 (fewer than N) and 超 (more than N) leave it out.
# "1人以上" turned into "1人より多く" forbids exactly 1 person; "0円以上" into "0円より多く" forbids free events.

BOUNDARY_WORDS = re.compile(r"以上|以下|以内|未満|超")
QUANTITY_END = re.compile(r"[\d０-９)）}%人円件日字歳分回つ個桁段]$")


def boundaries(message_id: str) -> set[str]:
    """The limits a Japanese source states. 超 only where it means "over N" (超え, 超過, 10人超), not inside
    other words (超高齢); 以下/以上 not where they mean "the following" / "that is all" (以下の項目, 以上です) or
    "any more" (これ以上); 小数点以下 is "decimal places"."""
    found = set()
    for match in BOUNDARY_WORDS.finditer(message_id):
        word, before, after = match.group(), message_id[: match.start()], message_id[match.end() :]
        starts_phrase = not before or before[-1] in "。、「(（ \n:：は"
        if word == "超" and not (after.startswith(("え", "過")) or QUANTITY_END.search(before)):
            continue
        if word == "以下" and (before.endswith("小数点") or starts_phrase):
            continue
        if word == "以上" and (before.endswith(("これ", "それ")) or starts_phrase):
            continue
        found.add("以下" if word == "以内" else word)
    return found


# Easy Japanese: the words that keep each boundary ...
EASY_KEEPS = {
    "以上": r"以上|いじょう|から|(?:大きい|多い|おおきい|おおい)か\s*(?:同じ|おなじ)|"
    r"か、?\s*\S+\s*より\s*(?:大き|多|おおき|おお)",
    "以下": r"以下|いか|以内|いない|まで|あいだ|間に|(?:小さい|少ない|ちいさい|すくない)か\s*(?:同じ|おなじ)",
    "未満": r"未満|みまん|より\s*(?:小さ|少な|ちいさ|すくな)",
    "超": r"超|こえ|より\s*(?:大き|多|おおき|おお)|すぎ",
}
# ... and the comparison that moves it: "より多く" says 超 where the source says 以上 (unless it is "…か 同じ" or
# "Nか、Nより 多い").
EASY_MOVES = {
    "以上": r"より\s*(?:大き|多|おおき|おお)",
    "以下": r"より\s*(?:小さ|少な|ちいさ|すくな)",
}
EN_KEEPS = {
    "以上": r"at least|or more|or larger|or greater|or higher|or above|or over|minimum|≥|"
    r"no (?:less|fewer|smaller) than|\bfrom\b.+\bto\b",
    "以下": r"at most|or fewer|or less|or smaller|or lower|or under|or below|up to|maximum|≤|"
    r"no (?:more|larger|greater|bigger) than|(?:not|never) exceed|\bwithin\b|\bfrom\b.+\bto\b",
    "未満": r"(?<!no )(?:less|fewer|smaller|lower) than|(?<!or )\bunder\b|(?<!or )\bbelow\b",
    "超": r"(?<!no )(?:more|greater|larger|higher|bigger) than|(?<!or )\bover\b|(?<!or )\babove\b|"
    r"(?<!not )(?<!never )exceed|too many|too much",
}
EN_MOVES = {
    "以上": EN_KEEPS["超"],
    # "below" and "under" only before a number: "the link below" states no limit.
    "以下": r"(?<!no )(?:less|fewer|smaller|lower) than|(?<!or )\b(?:under|below)\s+(?=[\d%{¥])",
}
# An inclusive source whose translation may also say the exclusive thing: only when the source does too.
OPPOSITE = {"以上": "超", "以下": "未満"}


def easy_boundary_problems(message_id: str, text: str) -> list[str]:
    kinds, read = boundaries(message_id), plain(text)
    problems = [f"loses {kind}" for kind in sorted(kinds) if not re.search(EASY_KEEPS[kind], read)]
    for kind in sorted(kinds & EASY_MOVES.keys()):
        if OPPOSITE[kind] in kinds or "より" in message_id:
            continue
        for match in re.finditer(EASY_MOVES[kind], read):
            said_with_n = re.search(r"か、?\s*\S+\s*$", read[: match.start()])
            if not said_with_n and not re.match(r"\S{0,3}か\s*(?:同じ|おなじ)", read[match.end() :]):
                problems.append(f"{kind} said as {match.group()!r}")
    return problems


def english_boundary_problems(message_id: str, text: str) -> list[str]:
    kinds = boundaries(message_id)
    problems = [f"loses {kind}" for kind in sorted(kinds) if not re.search(EN_KEEPS[kind], text, re.IGNORECASE)]
    for kind in sorted(kinds & EN_MOVES.keys()):
        if OPPOSITE[kind] in kinds or "より" in message_id:
            continue
        if match := re.search(EN_MOVES[kind], text, re.IGNORECASE):
            problems.append(f"{kind} said as {match.group()!r}")
    return problems


def test_boundary_words_are_found_only_where_they_state_a_limit():
    assert boundaries("人数は1人以上で入力してください。") == {"以上"}
    assert boundaries("定員を部屋の定員(%(capacity)d人)以下にしてください。") == {"以下"}
    assert boundaries("2000文字以内で入力してください。") == {"以下"}
    assert boundaries("人数が定員({n}人)を超えています。") == {"超"}
    assert boundaries("10人超の催し") == {"超"}
    assert boundaries("値は小数点以下4桁まで、14桁未満の数で入力してください。") == {"未満"}
    assert boundaries("超高齢社会への対応") == set()
    assert boundaries("以下の項目を確かめてください。") == set()
    assert boundaries("これ以上予約できません。") == set()


def test_the_checks_reject_a_moved_boundary():
    """The controls: the wordings this test exists for are caught, the right ones pass."""
    assert easy_boundary_problems("人数は1人以上で入力してください。", "人の数は1人より多くしてください。")
    assert easy_boundary_problems("参加費は0円以上にしてください。", "参加するお金は0円より多くしてください。")
    assert easy_boundary_problems("10文字以上。", "10<ruby>文字<rt>もじ</rt></ruby>より<ruby>多<rt>おお</rt></ruby>く")
    assert easy_boundary_problems("人数は1人以上で入力してください。", "人の かずは 1人より おおく して ください。")
    assert not easy_boundary_problems("人数は1人以上で入力してください。", "人の かずは 1人 いじょうに して ください。")
    assert not easy_boundary_problems("IDは1以上の整数", "IDは 1か、1より 大きい 数で 書いて ください。")
    assert not easy_boundary_problems("%(min)s以上の数", "%(min)s より 大きいか 同じ 数に して ください。")
    assert easy_boundary_problems("%(n)s以下にしてください。", "%(n)sより 少なく して ください。")
    assert english_boundary_problems("人数は1人以上で入力してください。", "Enter more than 1 person.")
    assert english_boundary_problems("画像は5MB以下にしてください。", "Images must be smaller than 5 MB.")
    assert english_boundary_problems("14桁未満の数", "A number of at most 14 digits.")
    assert not english_boundary_problems("人数は1人以上で入力してください。", "Enter at least 1 person.")
    assert not english_boundary_problems("定員を部屋の定員以下にしてください。", "Capacity must not exceed the room's.")


@pytest.mark.parametrize(
    ("code", "check"), [("ja-easy", easy_boundary_problems), ("en", english_boundary_problems)]
)
def test_translations_keep_the_boundary_of_every_limit(code, check):
    problems = [
        f"{message_id!r} -> {text!r}: {', '.join(found)}"
        for message_id, _context, strings in entries(code)
        if boundaries(message_id)
        for text in strings
        if (found := check(message_id, text))
    ]
    assert not problems, f"{len(problems)} limits changed in {CATALOGS[code].name}:\n" + "\n".join(problems)


# --- (b) English reads as English: no Japanese script or punctuation, one word for each thing ------------

# Japanese script and punctuation: kana, kanji, 、。「」『』・〜 and full-width forms (（）：円 is a kanji).
JAPANESE_TEXT = re.compile(r"[\u3000-\u303f\u3040-\u30ff\u3400-\u9fff\uff00-\uffef]")
# Proper names that are written in Japanese on purpose in English text (none today; add with a reason).
JAPANESE_ALLOWED_IN_ENGLISH: set[str] = set()
# One word for each thing (docs/i18n.md): the word on the left is never used, the right one is.
ENGLISH_AVOIDED = {
    r"\be-mail": "email",
    r"\bwards?\b": "city (Minato City), as the city calls itself in English",
    r"\b(?:Reiwa|Heisei|Showa)\b": "the western year alone",
    r"\bapplication numbers?\b": "entry number (申込番号)",
    r"\bExchange (?:Hall|Center|Centre)\b": "Traditional Culture Exchange House",
    r"¥\s+\d|\d\s*yen\b": "¥1,000 (the yen sign before the number)",
}


def test_english_has_no_japanese_script_or_punctuation():
    problems = []
    for message_id, _context, strings in entries("en"):
        for text in strings:
            rest = text
            for name in JAPANESE_ALLOWED_IN_ENGLISH:
                rest = rest.replace(name, "")
            if found := JAPANESE_TEXT.findall(rest):
                problems.append(f"{message_id!r} -> {text!r}: {''.join(found)}")
    assert not problems, "\n".join(problems)


def test_english_uses_one_word_for_each_thing():
    problems = [
        f"{message_id!r} -> {text!r}: say {instead}"
        for message_id, _context, strings in entries("en")
        for text in strings
        for avoided, instead in ENGLISH_AVOIDED.items()
        if re.search(avoided, text, re.IGNORECASE)
    ]
    assert not problems, "\n".join(problems)


# --- (c) the glossary: each term said one way in each language --------------------------------------------

GLOSSARY = ROOT / "docs" / "glossary.csv"


@cache
def glossary() -> list[dict[str, str]]:
    with open(GLOSSARY, encoding="utf-8", newline="") as fileobj:
        return list(csv.DictReader(fileobj))


def read_without_spaces(text: str) -> str:
    return re.sub(r"\s+", "", plain(text))


def term_in(message_id: str, term: str) -> bool:
    """TERM in the source, not only inside a longer glossary term (予約 inside 仮予約 is checked as 仮予約)."""
    longer = sorted((row["term"] for row in glossary() if term in row["term"] and row["term"] != term), key=len)
    for other in reversed(longer):
        message_id = message_id.replace(other, "")
    return term in message_id


def kanji_words(row: dict[str, str]) -> set[str]:
    """The term's kanji words an easy text may show only with furigana: the term and the hard ruby bases of its
    rendering (予約; 参加 and 報告 for 参加報告)."""
    words = {row["term"]} if KANJI.search(row["term"]) else set()
    for base in re.findall(r"<ruby>(.*?)<rt>", row["easy_rendering"]):
        if any(ch not in easy_kanji() for ch in base):
            words.add(base)
    return words


def glossary_problems(code: str) -> list[str]:
    problems = []
    for row in glossary():
        accepts = row["easy_accepts"] if code == "ja-easy" else row["english_accepts"]
        for message_id, _context, strings in entries(code):
            if not term_in(message_id, row["term"]):
                continue
            for text in strings:
                said = read_without_spaces(text) if code == "ja-easy" else text
                expected = row["easy_label"] if code == "ja-easy" else row["english"]
                if not re.search(accepts, said, re.IGNORECASE):
                    problems.append(f"{row['term']} ({expected}): {message_id!r} -> {text!r}")
                outside_ruby = re.sub(r"<ruby>.*?</ruby>", "", text)
                if code == "ja-easy" and (bare := [w for w in kanji_words(row) if w in outside_ruby]):
                    problems.append(f"{row['term']} ({'/'.join(bare)} without ruby; label: {expected}): "
                                    f"{message_id!r} -> {text!r}")
    return problems


def test_the_glossary_is_complete_and_its_forms_match_themselves():
    terms = [row["term"] for row in glossary()]
    assert len(terms) == len(set(terms))
    assert {"予約", "仮予約", "抽選", "減免", "使用料", "時間区分", "窓口", "参加報告", "成果指標",
            "利用率"} <= set(terms)
    for row in glossary():
        assert re.search(row["easy_accepts"], read_without_spaces(row["easy_rendering"])), row["term"]
        assert re.search(row["easy_accepts"], read_without_spaces(row["easy_label"])), row["term"]
        assert re.search(row["english_accepts"], row["english"], re.IGNORECASE), row["term"]
        assert "<" not in row["easy_label"] and not re.search(r"[\u3400-\u9fff]", row["easy_label"].replace(
            "人", "").replace("日", "")), f"{row['term']}: a label form is in hiragana"
    # The controls: くじびき for 抽選 is caught, and so is 予約 without furigana.
    assert not re.search(next(r for r in glossary() if r["term"] == "抽選")["easy_accepts"], "このくじびきは")
    assert kanji_words(next(r for r in glossary() if r["term"] == "参加報告")) == {"参加報告", "参加", "報告"}


@pytest.mark.parametrize("code", ["ja-easy", "en"])
def test_every_glossary_term_is_said_the_same_way(code):
    problems = glossary_problems(code)
    assert not problems, f"{len(problems)} in {CATALOGS[code].name}:\n" + "\n".join(problems)


# --- (d) easy kanji: beyond the first two grades, kanji carry furigana ------------------------------------

EASY_KANJI = ROOT / "app" / "core" / "data" / "easy_kanji.txt"


@cache
def easy_kanji() -> frozenset[str]:
    lines = EASY_KANJI.read_text(encoding="utf-8").splitlines()
    return frozenset("".join(line.strip() for line in lines if not line.startswith("#")))


def bare_hard_kanji(text: str) -> str:
    """The kanji of TEXT outside <ruby> that are not in the allowed list."""
    outside = re.sub(r"<ruby>.*?</ruby>", "", text)
    return "".join(dict.fromkeys(ch for ch in KANJI.findall(outside) if ch not in easy_kanji()))


def test_the_allowed_kanji_are_the_first_two_grades():
    assert len(easy_kanji()) == 240 and {"日", "人", "円", "時", "分", "曜"} <= easy_kanji()
    assert bare_hard_kanji("<ruby>予約<rt>よやく</rt></ruby>は 1日に 2回まで") == ""
    assert bare_hard_kanji("予約は 1日に 2回まで") == "予約"


def test_easy_strings_have_no_hard_kanji_without_furigana():
    problems = [
        f"{message_id!r} -> {text!r}: {hard}"
        for message_id, _context, strings in entries("ja-easy")
        for text in strings
        if (hard := bare_hard_kanji(text))
    ]
    assert not problems, (f"{len(problems)} easy strings with hard kanji and no ruby (ruby in content text, "
                          "hiragana in labels; docs/i18n.md):\n" + "\n".join(problems))
