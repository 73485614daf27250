"""The lottery draw benchmark runs, prints a row per size with ratios, and meets its goal."""

from __future__ import annotations

from bench.lottery_draw import generate, main


def test_generated_entries_are_reproducible_and_within_the_rules():
    entries, slots = generate(300, 90, preferences=5)
    again, _ = generate(300, 90, preferences=5)
    assert entries == again
    assert len(slots) == 90 and len(set(slots)) == 90
    assert all(1 <= len(e.preferences) <= 5 and set(e.preferences) <= set(slots) for e in entries)


def test_the_benchmark_prints_ratios_and_meets_the_goal(capsys):
    assert main(["--repeat", "1"]) == 0
    out = capsys.readouterr().out
    assert "   10000   3000" in out
    assert "goal: 10,000 entries over 3,000 slots under 2.0 s: met" in out
    assert len([line for line in out.splitlines() if line.strip()[:1].isdigit()]) == 5
