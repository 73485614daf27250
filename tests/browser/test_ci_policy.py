"""With CI=true a missing chromium FAILS the browser tests (they must run in CI); elsewhere they skip.

Not a browser test itself: it runs in the normal suite and starts pytest on one browser test with a chromium
path that does not exist (no server, no browser is started).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run(ci: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "CI": ci, "CHROMIUM_PATH": "/nonexistent/chromium"}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-m", "browser", "-p", "no:cacheprovider", "-q",
         "tests/browser/test_journeys.py", "-k", "utilization and en"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )


def test_missing_chromium_fails_in_ci_and_skips_elsewhere():
    ci = _run("true")
    assert ci.returncode != 0, ci.stdout[-2000:]
    assert "CI=true: the browser tests must run" in ci.stdout
    assert "1 error" in ci.stdout and "skipped" not in ci.stdout
    local = _run("")
    assert local.returncode == 0, local.stdout[-2000:]
    assert "1 skipped" in local.stdout and "make browser-deps" in local.stdout
