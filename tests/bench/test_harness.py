"""The benchmark harness: a very short baseline run prints a ratio for every route; errors are counted."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from bench.run import load
from bench.scenarios import Route, load_scenario

ROOT = Path(__file__).resolve().parents[2]
ROW = re.compile(r"^(\S+)(?: \(as \S+\))?\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+(\d+)\s+([\d.]+)", re.MULTILINE)


@pytest.mark.slow
def test_baseline_run_prints_ratios_for_each_route(tmp_path):
    command = [
        sys.executable, str(ROOT / "bench" / "run.py"), "--scenario", "baseline", "--duration", "0.6",
        "--warmup", "0.1", "--rounds", "2", "--clients", "2", "--workers", "1", "--threads", "2",
        "--results-dir", str(tmp_path), "--time-limit", "60",
    ]
    if os.environ.get("TEST_DATABASE_URL"):
        command += ["--postgres", os.environ["TEST_DATABASE_URL"]]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=90)
    assert result.returncode == 0, result.stdout + result.stderr

    rows = {path: (float(rps), int(errors), float(ratio)) for path, rps, _p50, _p95, errors, ratio
            in ROW.findall(result.stdout)}
    expected = {"/healthz"} | {route.path for route in load_scenario("baseline").ROUTES}
    assert set(rows) == expected, result.stdout
    for path, (rps, errors, ratio) in rows.items():
        assert rps > 0, path
        assert errors == 0, path
        assert ratio > 0, path
    assert rows["/healthz"][2] == 1.0
    assert len(list(tmp_path.glob("baseline-*.json"))) == 1


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as gunicorn's gthread workers

    def do_GET(self):  # noqa: N802 - http.server's naming
        status = 200 if self.path == "/ok" else 404
        body = b"ok"
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_load_generator_counts_successes_and_errors():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        port = server.server_address[1]
        good = load(port, Route("/ok"), {}, clients=2, duration=0.3)
        bad = load(port, Route("/missing"), {}, clients=2, duration=0.3)
    finally:
        server.shutdown()
        server.server_close()
    assert good.errors == 0 and len(good.latencies) > 0 and good.rps > 0
    assert bad.errors > 0 and bad.latencies == [] and bad.first_error == "status 404"
