"""The utilization benchmark runs on a small size and prints the overview's time, statement count and ratio."""

from __future__ import annotations

import re

from bench.utilization_overview import main


def test_the_benchmark_prints_times_statements_and_ratio(capsys):
    status = main(["--years", "1", "--facilities", "1", "--repeat", "1"])
    out = capsys.readouterr().out
    assert status in (0, 1)  # 1 = the ratio goal missed; the report says which
    assert "5 rooms x 1 fiscal years" in out
    statements = int(re.search(r"overview \(2 fiscal years, (\d+) SQL statements\)", out).group(1))
    # 10 before the current year was split into days so far and bookings ahead (a second utilization read) and
    # the plan's targets, first bookings (unknown years) and 「交流の間」 room rule were read (one statement each).
    assert statements <= 14
    assert re.search(r"ratio overview / raw GROUP BY: [\d.]+x \(goal: at most 3x: (met|missed)\)", out)
