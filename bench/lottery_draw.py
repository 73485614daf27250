"""Benchmark of the pure lottery draw: 10,000 entries over 3,000 slots (goal: under 2 s) and how time grows.

Usage: python bench/lottery_draw.py [--repeat 5] [--preferences 5] [--goal 2.0]

Entries are generated with a fixed seed: tiers 1-3 (10 %, 30 %, 60 %), up to 5 ranked preferences, and a
skewed demand (a fifth of the slots, such as weekend evenings, draw most first choices) so that the draw
is contested as real ones are. Each size runs REPEAT times; the best time is reported (the least disturbed
by whatever else the machine does), with the ratios to the previous size: time ratio / size ratio near 1
means the draw grows linearly. Exit status 1 when the 10,000 x 3,000 draw misses the goal.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from app.lottery.draw import Entry, SlotKey, draw  # noqa: E402

SIZES = [(1_250, 375), (2_500, 750), (5_000, 1_500), (10_000, 3_000), (20_000, 6_000)]
GOAL_SIZE = (10_000, 3_000)
CODES = ("morning", "afternoon", "evening")


def generate(entries: int, slots: int, *, preferences: int, seed: int = 7) -> tuple[list[Entry], list[SlotKey]]:
    """ENTRIES applications over SLOTS room x day x 時間区分 keys, reproducibly from SEED."""
    rng = random.Random(seed)
    rooms = max(1, slots // (30 * len(CODES)))  # a month of days per room
    first = date(2027, 4, 1)
    keys = [SlotKey(room, first + timedelta(days=d), code)
            for room in range(1, rooms + 2) for d in range(31) for code in CODES][:slots]
    popular = keys[: max(1, len(keys) // 5)]
    result = []
    for n in range(entries):
        tier = rng.choices((1, 2, 3), weights=(1, 3, 6))[0]
        count = rng.randint(1, preferences)
        prefs: list[SlotKey] = []
        while len(prefs) < count:
            slot = rng.choice(popular) if rng.random() < 0.7 else rng.choice(keys)
            if slot not in prefs:
                prefs.append(slot)
        result.append(Entry(entry_id=str(n + 1), group=f"org-{n // 3}", tier=tier, preferences=tuple(prefs)))
    return result, keys


def best_time(entries: list[Entry], slots: list[SlotKey], *, repeat: int) -> tuple[float, int]:
    """Best wall time of REPEAT draws, and how many entries won."""
    times = []
    won = 0
    for run in range(repeat):
        started = time.perf_counter()
        result = draw(entries, slots, f"bench-seed-{run}", entries_per_group=3, max_preferences=5)
        times.append(time.perf_counter() - started)
        won = len(result.awards)
    return min(times), won


def main(argv: list[str] | None = None) -> int:
    """Run every size, print a table with ratios, and check the goal."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--preferences", type=int, default=5)
    parser.add_argument("--goal", type=float, default=2.0, help="seconds allowed for 10,000 x 3,000")
    args = parser.parse_args(argv)

    print(f"{'entries':>8} {'slots':>6} {'won':>6} {'best s':>8} {'x size':>7} {'x time':>7} {'time/size':>9}")
    previous = None
    goal_time = None
    for entries_n, slots_n in SIZES:
        entries, slots = generate(entries_n, slots_n, preferences=args.preferences)
        seconds, won = best_time(entries, slots, repeat=args.repeat)
        if previous is None:
            print(f"{entries_n:>8} {slots_n:>6} {won:>6} {seconds:>8.4f} {'':>7} {'':>7} {'':>9}")
        else:
            size_ratio = entries_n / previous[0]
            time_ratio = seconds / previous[1]
            print(f"{entries_n:>8} {slots_n:>6} {won:>6} {seconds:>8.4f} {size_ratio:>7.2f} {time_ratio:>7.2f} "
                  f"{time_ratio / size_ratio:>9.2f}")
        if (entries_n, slots_n) == GOAL_SIZE:
            goal_time = seconds
        previous = (entries_n, seconds)
    met = goal_time is not None and goal_time < args.goal
    print(f"goal: {GOAL_SIZE[0]:,} entries over {GOAL_SIZE[1]:,} slots under {args.goal} s: "
          f"{'met' if met else 'MISSED'} ({goal_time:.4f} s)")
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
