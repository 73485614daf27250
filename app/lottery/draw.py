"""The lottery draw (抽選) as a pure function: entries + free slots + seed -> allocation, re-runnable by anyone.

How a draw works (this text is the specification; `draw` implements it and nothing else):

1. Commit. Before the draw (best: when the application window opens, so the seed cannot be chosen against
   the entries) staff generate a secret SEED (`new_seed()`, 64 hex characters) and publish its commitment
   `SHA-256(seed)` as lowercase hex, i.e. `printf %s SEED | sha256sum`.
2. Order. Entries are sorted by tier (1 = first priority, e.g. 町会 and welfare groups; higher numbers
   later), then by their order key `SHA-256("<seed>:<entry id>")` in lowercase hex, then by entry id.
   Within a tier this is a uniformly random order that nobody can predict before the seed is revealed.
3. Allocate (serial dictatorship). Going down that order, each entry gets its best-ranked preference that is
   still free, or nothing if none is. A slot awarded is no longer free, nor are the slots it overlaps
   (a whole hall and its halves). So no slot goes to two entries and no entry gets two slots.
4. Reveal. After the draw staff publish the seed, the entries and the result (and `DrawResult.digest()`).
   Anyone can check `SHA-256(seed)` against the commitment and re-run steps 2 and 3 (`verify`).

Slots are `SlotKey(room_id, day, slot_code)`: a room x date x 時間区分. Entry ids and groups are strings so that
the order key is the same in any language. The module touches no database; the caller loads entries and
free slots and stores the result.
"""

from __future__ import annotations

import hashlib
import secrets
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import NamedTuple


class LotteryInputError(ValueError):
    """Entries that break the period's rules (the entry forms should have refused them)."""


class SlotKey(NamedTuple):
    """One lettable unit: a room on a day in a 時間区分."""

    room_id: int
    day: date
    slot_code: str

    def token(self) -> str:
        """Canonical text form used in digests and published results: '<room>/<YYYY-MM-DD>/<code>'."""
        return f"{self.room_id}/{self.day.isoformat()}/{self.slot_code}"

    @classmethod
    def from_token(cls, token: str) -> SlotKey:
        """The slot a token names (the inverse of token())."""
        room_id, day, slot_code = token.split("/", 2)
        return cls(int(room_id), date.fromisoformat(day), slot_code)


@dataclass(frozen=True)
class Entry:
    """One application: who (group), their priority tier, and their ranked preferences (best first)."""

    entry_id: str
    group: str  # the applicant (an organization, or an individual where the facility allows it)
    tier: int  # 1 draws first
    preferences: tuple[SlotKey, ...]


@dataclass(frozen=True)
class DrawResult:
    """The outcome: the draw order, and for each entry that won, its slot and the rank of that preference."""

    order: tuple[str, ...]
    awards: dict[str, SlotKey] = field(hash=False)
    ranks: dict[str, int] = field(hash=False)  # 1 = first preference

    def losers(self) -> list[str]:
        """Entries that got nothing, in draw order."""
        return [entry_id for entry_id in self.order if entry_id not in self.awards]

    def digest(self) -> str:
        """SHA-256 of the awards as text ('<entry id>\\t<slot token>\\n' sorted by entry id), for publication."""
        return awards_digest(self.awards)


def new_seed() -> str:
    """A fresh secret seed: 32 random bytes as 64 hex characters."""
    return secrets.token_hex(32)


def commitment(seed: str) -> str:
    """The published commitment to SEED: SHA-256 of its UTF-8 bytes, lowercase hex."""
    return hashlib.sha256(seed.encode("utf-8")).hexdigest()


def order_key(seed: str, entry_id: str) -> str:
    """An entry's place within its tier: SHA-256 of '<seed>:<entry id>', lowercase hex."""
    return hashlib.sha256(f"{seed}:{entry_id}".encode()).hexdigest()


def awards_digest(awards: Mapping[str, SlotKey]) -> str:
    """SHA-256 of awards in canonical text form (see DrawResult.digest)."""
    text = "".join(f"{entry_id}\t{awards[entry_id].token()}\n" for entry_id in sorted(awards))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def check_entries(entries: Iterable[Entry], *, entries_per_group: int | None = None,
                  max_preferences: int | None = None) -> None:
    """Raise LotteryInputError if entries repeat an id or a preference, or exceed the period's limits."""
    entries = list(entries)
    ids = Counter(entry.entry_id for entry in entries)
    repeated = sorted(entry_id for entry_id, n in ids.items() if n > 1)
    if repeated:
        raise LotteryInputError(f"entry ids used twice: {', '.join(repeated)}")
    if entries_per_group is not None:
        per_group = Counter(entry.group for entry in entries)
        over = sorted(group for group, n in per_group.items() if n > entries_per_group)
        if over:
            raise LotteryInputError(f"groups over {entries_per_group} entries: {', '.join(over)}")
    for entry in entries:
        if max_preferences is not None and len(entry.preferences) > max_preferences:
            raise LotteryInputError(f"entry {entry.entry_id} ranks more than {max_preferences} preferences")
        if len(set(entry.preferences)) != len(entry.preferences):
            raise LotteryInputError(f"entry {entry.entry_id} ranks a slot twice")


def draw_order(entries: Iterable[Entry], seed: str) -> list[Entry]:
    """Entries in draw order: tier, then order key from the seed, then entry id."""
    return sorted(entries, key=lambda e: (e.tier, order_key(seed, e.entry_id), e.entry_id))


def draw(entries: Iterable[Entry], available: Iterable[SlotKey], seed: str, *,
         entries_per_group: int | None = None, max_preferences: int | None = None,
         overlaps: Mapping[SlotKey, Iterable[SlotKey]] | None = None) -> DrawResult:
    """Run the draw described in this module's docstring; the same inputs always give the same result.

    AVAILABLE are the slots the lottery lets (preferences for other slots are passed over). OVERLAPS maps a
    slot to the slots that awarding it makes unusable (give both directions: hall -> halves, half -> hall).
    """
    entries = list(entries)
    check_entries(entries, entries_per_group=entries_per_group, max_preferences=max_preferences)
    free = set(available)
    overlaps = overlaps or {}
    order: list[str] = []
    awards: dict[str, SlotKey] = {}
    ranks: dict[str, int] = {}
    for entry in draw_order(entries, seed):
        order.append(entry.entry_id)
        for rank, slot in enumerate(entry.preferences, start=1):
            if slot in free:
                awards[entry.entry_id] = slot
                ranks[entry.entry_id] = rank
                free.discard(slot)
                free.difference_update(overlaps.get(slot, ()))
                break
    return DrawResult(order=tuple(order), awards=awards, ranks=ranks)


@dataclass(frozen=True)
class Verification:
    """What `verify` found: whether the seed matches its commitment and the draw reproduces the awards."""

    seed_matches_commitment: bool
    result_matches: bool
    result: DrawResult
    differences: dict[str, tuple[SlotKey | None, SlotKey | None]]  # entry id -> (published, recomputed)

    @property
    def ok(self) -> bool:
        return self.seed_matches_commitment and self.result_matches


def verify(*, seed: str, published_commitment: str, entries: Iterable[Entry], available: Iterable[SlotKey],
           published_awards: Mapping[str, SlotKey], **options) -> Verification:
    """Re-run a published draw: check the seed against its commitment and the awards against a fresh draw.

    OPTIONS are those of `draw` (entries_per_group, max_preferences, overlaps), as they were for the period.
    """
    result = draw(entries, available, seed, **options)
    differences = {
        entry_id: (published_awards.get(entry_id), result.awards.get(entry_id))
        for entry_id in sorted(set(published_awards) | set(result.awards))
        if published_awards.get(entry_id) != result.awards.get(entry_id)
    }
    return Verification(
        seed_matches_commitment=secrets.compare_digest(commitment(seed), published_commitment.strip().lower()),
        result_matches=not differences,
        result=result,
        differences=differences,
    )


# --- the published document: everything needed to re-run a draw, without the app --------------------------

DOCUMENT_FORMAT = "tsudoi-lottery-v1"


def to_document(*, seed: str, seed_commitment: str, entries: Iterable[Entry], available: Iterable[SlotKey],
                overlaps: Mapping[SlotKey, Iterable[SlotKey]], awards: Mapping[str, SlotKey],
                entries_per_group: int | None, max_preferences: int | None, **extra) -> dict:
    """A JSON-ready record of a draw. Groups are renamed g1, g2 ... (in entry order): the limit per group can
    be re-checked without publishing who applied."""
    entries = sorted(entries, key=lambda e: (len(e.entry_id), e.entry_id))
    aliases: dict[str, str] = {}
    for e in entries:
        aliases.setdefault(e.group, f"g{len(aliases) + 1}")
    return {
        "format": DOCUMENT_FORMAT,
        **extra,
        "seed_commitment": seed_commitment,
        "seed": seed,
        "entries_per_group": entries_per_group,
        "max_preferences": max_preferences,
        "available": sorted(slot.token() for slot in available),
        "overlaps": sorted([a.token(), b.token()] for a, others in overlaps.items() for b in others),
        "entries": [{"id": e.entry_id, "group": aliases[e.group], "tier": e.tier,
                     "preferences": [slot.token() for slot in e.preferences]} for e in entries],
        "awards": {entry_id: awards[entry_id].token() for entry_id in sorted(awards, key=lambda i: (len(i), i))},
        "result_digest": awards_digest(awards),
    }


def verify_document(document: Mapping) -> Verification:
    """Re-run the draw a document records (see to_document); also compares the recorded result digest."""
    if document.get("format") != DOCUMENT_FORMAT:
        raise LotteryInputError(f"not a {DOCUMENT_FORMAT} document")
    overlaps: dict[SlotKey, set[SlotKey]] = {}
    for a, b in document["overlaps"]:
        overlaps.setdefault(SlotKey.from_token(a), set()).add(SlotKey.from_token(b))
    awards = {entry_id: SlotKey.from_token(token) for entry_id, token in document["awards"].items()}
    report = verify(
        seed=document["seed"], published_commitment=document["seed_commitment"],
        entries=[Entry(entry_id=str(e["id"]), group=e["group"], tier=int(e["tier"]),
                       preferences=tuple(SlotKey.from_token(t) for t in e["preferences"]))
                 for e in document["entries"]],
        available=[SlotKey.from_token(t) for t in document["available"]], published_awards=awards,
        entries_per_group=document["entries_per_group"], max_preferences=document["max_preferences"],
        overlaps=overlaps,
    )
    if document.get("result_digest") != awards_digest(awards):
        return Verification(report.seed_matches_commitment, False, report.result, report.differences)
    return report


def main(argv: list[str] | None = None) -> int:
    """`python lottery.py verify FILE.json`: re-run a published draw with nothing but Python's standard library."""
    import json
    import sys

    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2 or args[0] != "verify":
        print("usage: python lottery.py verify FILE.json", file=sys.stderr)
        return 2
    with open(args[1], encoding="utf-8") as fileobj:
        report = verify_document(json.load(fileobj))
    print(f"seed matches commitment: {'yes' if report.seed_matches_commitment else 'NO'}")
    print(f"entries: {len(report.result.order)}, won: {len(report.result.awards)}")
    for entry_id, (published, recomputed) in report.differences.items():
        print(f"  entry {entry_id}: published {published.token() if published else '-'}, "
              f"recomputed {recomputed.token() if recomputed else '-'}")
    print("OK: the draw reproduces" if report.ok else "MISMATCH: the draw does not reproduce")
    return 0 if report.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
