"""Benchmark harness: serve the app with gunicorn on a fresh database and measure routes against /healthz.

Usage: python bench/run.py [--scenario baseline] [--duration 5] [--postgres [URL]] ...  (see bench/README.md)
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.scenarios import BENCH_PASSWORD, Route, load_scenario  # noqa: E402

HOST = "127.0.0.1"
DEFAULT_PG_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
HEALTHZ = "/healthz"
LISTENING_RE = re.compile(r"Listening at: http://127\.0\.0\.1:(\d+)")
CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


class BenchError(RuntimeError):
    """The harness could not run (server did not start, login failed, time limit hit)."""


@dataclass
class Measurement:
    """One route's run: requests per second, latency percentiles and errors."""

    name: str
    path: str
    requests: int
    errors: int
    seconds: float
    rps: float
    p50_ms: float
    p95_ms: float
    ratio: float | None = None
    first_error: str | None = None
    extra: dict = field(default_factory=dict)


# --- database ----------------------------------------------------------------------------------------


@contextlib.contextmanager
def fresh_database(pg_server: str | None, workdir: Path):
    """Yield the URL of a new empty database (SQLite file in WORKDIR, or a new PostgreSQL database); drop it after."""
    if not pg_server:
        yield f"sqlite:///{workdir / 'bench.sqlite3'}"
        return
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

    server = make_url(pg_server).set(drivername="postgresql+psycopg")
    name = f"tsudoi_bench_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def server_environment(database_url: str, workdir: Path) -> dict[str, str]:
    """The environment of the migration, the generator and the server: production settings, throwaway secrets."""
    env = dict(os.environ)
    env.pop("REDIS_URL", None)  # rate limits in each worker's memory: no shared state to measure
    env.update(
        TSUDOI_ENV="production",
        DATABASE_URL=database_url,
        SECRET_KEY=secrets.token_urlsafe(32),
        TSUDOI_INSTANCE_DIR=str(workdir / "instance"),
        PROXY_FIX_X_FOR="0",  # no proxy in front of the benchmark server
        TSUDOI_ALLOW_MEMORY_LIMITS="1",  # production refuses to start without REDIS_URL otherwise
        MAIL_BACKEND="outbox",
        FLASK_APP="wsgi.py",
        PYTHONUNBUFFERED="1",
    )
    return env


def prepare_database(scenario, size: int, env: dict[str, str]) -> tuple[float, float, list[Route]]:
    """In this process: `flask db upgrade heads`, then the scenario's generator.

    Returns the seconds each took and the routes to measure. Upgrading "heads" works before and after the
    domains' revisions are chained into one line.
    """
    os.environ.update({k: env[k] for k in ("TSUDOI_ENV", "DATABASE_URL", "SECRET_KEY", "TSUDOI_INSTANCE_DIR",
                                           "PROXY_FIX_X_FOR", "MAIL_BACKEND",
                                           "TSUDOI_ALLOW_MEMORY_LIMITS")})
    from flask_migrate import upgrade

    from app import create_app
    from app.extensions import db

    app = create_app(SQLALCHEMY_DATABASE_URI=env["DATABASE_URL"])
    with app.app_context():
        try:
            started = time.perf_counter()
            upgrade(revision="heads")
            migrated = time.perf_counter()
            if hasattr(scenario, "generate"):
                scenario.generate(app, size)
                db.session.commit()
            generated = time.perf_counter()
            routes = list(scenario.routes(app) if hasattr(scenario, "routes") else scenario.ROUTES)
        finally:
            db.session.remove()
            db.engine.dispose()  # nothing may hold a connection when the database is dropped
    return migrated - started, generated - migrated, routes


# --- server ------------------------------------------------------------------------------------------


class Server:
    """gunicorn on a free loopback port (bound to port 0; the port is read from its log)."""

    def __init__(self, env: dict[str, str], *, workers: int, threads: int, log_path: Path):
        self.log_path = log_path
        self._log = open(log_path, "w+")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [
                sys.executable, "-m", "gunicorn",
                "--worker-class", "gthread", "--workers", str(workers), "--threads", str(threads),
                "--bind", f"{HOST}:0", "--no-control-socket", "--log-level", "info",
                "--keep-alive", "5", "--timeout", "30",
                "wsgi:app",
            ],
            cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        self.port: int | None = None

    def wait_ready(self, timeout: float = 30.0) -> int:
        """Wait until the port is known and /healthz answers 200; return the port."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BenchError(f"gunicorn exited with {self.process.returncode}:\n{self.log()}")
            if self.port is None:
                match = LISTENING_RE.search(self.log())
                if match:
                    self.port = int(match.group(1))
            if self.port is not None:
                with contextlib.suppress(OSError, http.client.HTTPException):
                    conn = http.client.HTTPConnection(HOST, self.port, timeout=2)
                    conn.request("GET", HEALTHZ)
                    if conn.getresponse().status == 200:
                        conn.close()
                        return self.port
                    conn.close()
            time.sleep(0.1)
        raise BenchError(f"gunicorn did not answer within {timeout:.0f} s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        """TERM the server's process group, KILL it if it lingers."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=5)
        self._log.close()


# --- client ------------------------------------------------------------------------------------------


def _cookies_from(response: http.client.HTTPResponse, jar: dict[str, str]) -> None:
    for header in response.msg.get_all("Set-Cookie") or []:
        name, _, value = header.split(";", 1)[0].partition("=")
        jar[name.strip()] = value.strip()


def _cookie_header(jar: dict[str, str]) -> str:
    return "; ".join(f"{name}={value}" for name, value in jar.items())


def sign_in(port: int, email: str, password: str = BENCH_PASSWORD) -> dict[str, str]:
    """Sign in through the login form (CSRF token included); return the request headers carrying the session."""
    jar: dict[str, str] = {}
    conn = http.client.HTTPConnection(HOST, port, timeout=10)
    try:
        conn.request("GET", "/account/login")
        page = conn.getresponse()
        body = page.read().decode("utf-8", "replace")
        _cookies_from(page, jar)
        match = CSRF_RE.search(body)
        if page.status != 200 or not match:
            raise BenchError(f"login page: status {page.status}, CSRF token {'found' if match else 'missing'}")
        form = urllib.parse.urlencode({"csrf_token": match.group(1), "email": email, "password": password})
        conn.request("POST", "/account/login", body=form, headers={
            "Content-Type": "application/x-www-form-urlencoded", "Cookie": _cookie_header(jar),
        })
        answer = conn.getresponse()
        answer.read()
        _cookies_from(answer, jar)
        if answer.status != 303:
            raise BenchError(f"signing in as {email} answered {answer.status} (expected a redirect)")
    finally:
        conn.close()
    return {"Cookie": _cookie_header(jar)}


def _percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, max(0, round(fraction * (len(sorted_values) - 1))))
    return sorted_values[index]


@dataclass
class Sample:
    """The raw outcome of one timed slice: latencies of good responses, errors, wall time."""

    latencies: list[float]
    errors: int
    seconds: float
    first_error: str | None

    @property
    def rps(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds > 0 else 0.0


def load(port: int, route: Route, headers: dict[str, str], *, clients: int, duration: float,
         timeout: float = 10.0) -> Sample:
    """CLIENTS threads, each with one keep-alive connection, GET the route until DURATION has passed."""
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors = [0] * clients
    first_error: list[str] = []
    finished: list[float] = []
    start = time.perf_counter()
    deadline = start + duration

    def worker(slot: int) -> None:
        conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
        mine = latencies[slot]
        while time.perf_counter() < deadline:
            sent = time.perf_counter()
            try:
                conn.request("GET", route.path, headers=headers)
                response = conn.getresponse()
                response.read()
                if response.status != route.expect:
                    errors[slot] += 1
                    if not first_error:
                        first_error.append(f"status {response.status}")
                else:
                    mine.append(time.perf_counter() - sent)
                if response.will_close:
                    conn.close()
            except (OSError, http.client.HTTPException) as exc:
                errors[slot] += 1
                if not first_error:
                    first_error.append(repr(exc))
                conn.close()
                conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
        conn.close()
        finished.append(time.perf_counter())

    threads = [threading.Thread(target=worker, args=(slot,), daemon=True) for slot in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        # A request may still be in flight at the deadline; a thread stuck longer than that is abandoned.
        thread.join(timeout=max(0.0, deadline - time.perf_counter()) + timeout + 1)
    hung = sum(thread.is_alive() for thread in threads)
    if hung and not first_error:
        first_error.append("client thread hung")
    elapsed = (max(finished) if finished else time.perf_counter()) - start
    return Sample([v for slot in latencies for v in slot], sum(errors) + hung, elapsed,
                  first_error[0] if first_error else None)


def summarize(route: Route, samples: list[Sample]) -> Measurement:
    """Pool the samples of a route over all rounds."""
    values = sorted(v for sample in samples for v in sample.latencies)
    seconds = sum(sample.seconds for sample in samples)
    errors = [sample.first_error for sample in samples if sample.first_error]
    return Measurement(
        name=route.name,
        path=route.path,
        requests=len(values),
        errors=sum(sample.errors for sample in samples),
        seconds=round(seconds, 3),
        rps=round(len(values) / seconds, 1) if seconds > 0 else 0.0,
        p50_ms=round(_percentile(values, 0.50) * 1000, 2),
        p95_ms=round(_percentile(values, 0.95) * 1000, 2),
        first_error=errors[0] if errors else None,
    )


def measure_interleaved(port: int, routes: list[Route], headers: dict[str, dict[str, str]], *, clients: int,
                        duration: float, warmup: float, rounds: int) -> tuple[Measurement, list[Measurement]]:
    """Measure /healthz and ROUTES in ROUNDS interleaved slices of DURATION / ROUNDS each.

    Interleaving exposes /healthz and every route to the same background load (other processes on the
    machine, SQLite checkpoints, CPU frequency), which matters more for a ratio than long single runs.
    """
    healthz = Route(HEALTHZ)
    everything = [healthz, *routes]
    if warmup > 0:  # caches, connections, lazy imports: not measured
        for route in everything:
            load(port, route, headers.get(route.login or "", {}), clients=clients, duration=warmup)
    samples: dict[int, list[Sample]] = {i: [] for i in range(len(everything))}
    for _ in range(rounds):
        for i, route in enumerate(everything):
            samples[i].append(load(port, route, headers.get(route.login or "", {}), clients=clients,
                                   duration=duration / rounds))
    reference = summarize(healthz, samples[0])
    measured = []
    for i, route in enumerate(routes, start=1):
        row = summarize(route, samples[i])
        per_round = [s.rps / h.rps for s, h in zip(samples[i], samples[0], strict=True) if h.rps > 0]
        if per_round:
            row.extra["round_ratio_min"] = round(min(per_round), 3)
            row.extra["round_ratio_max"] = round(max(per_round), 3)
        measured.append(row)
    return reference, measured


# --- report ------------------------------------------------------------------------------------------


def print_table(reference: Measurement, rows: list[Measurement]) -> None:
    """One line per route: rps, p50/p95 latency, errors, route_rps / healthz_rps and its range over the rounds."""
    width = max(len(row.name) for row in [reference, *rows])
    print(f"{'route':<{width}}  {'rps':>9}  {'p50 ms':>8}  {'p95 ms':>8}  {'errors':>6}  {'ratio':>6}  rounds")
    for row in [reference, *rows]:
        ratio = f"{row.ratio:.3f}" if row.ratio is not None else "-"
        spread = (f"{row.extra['round_ratio_min']:.2f}-{row.extra['round_ratio_max']:.2f}"
                  if "round_ratio_min" in row.extra else "")
        print(f"{row.name:<{width}}  {row.rps:>9.1f}  {row.p50_ms:>8.2f}  {row.p95_ms:>8.2f}  {row.errors:>6}"
              f"  {ratio:>6}  {spread}")
        if row.first_error:
            print(f"    first error: {row.first_error}")
    print(f"ratio = route rps / {HEALTHZ} rps, both measured in the same interleaved rounds")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options; BENCH_DATABASE_URL (a PostgreSQL server URL) implies --postgres."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="baseline", help="module name in bench/scenarios/ (default: baseline)")
    parser.add_argument("--size", type=int, default=None, help="data size passed to generate() (scenario default)")
    parser.add_argument("--duration", type=float, default=5.0, help="measured seconds per route (default: 5)")
    parser.add_argument("--warmup", type=float, default=0.5,
                        help="unmeasured seconds per route before the rounds (default: 0.5)")
    parser.add_argument("--rounds", type=int, default=5,
                        help="interleaved rounds the duration is split into (default: 5; slices of at least 0.2 s)")
    parser.add_argument("--clients", type=int, default=8, help="client threads, one keep-alive connection each")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default: 2)")
    parser.add_argument("--threads", type=int, default=4, help="gthread threads per worker (default: 4)")
    parser.add_argument("--postgres", nargs="?", const=DEFAULT_PG_SERVER,
                        default=os.environ.get("BENCH_DATABASE_URL") or None, metavar="SERVER_URL",
                        help="use a fresh PostgreSQL database on this server (default: SQLite file); "
                             f"without a value: {DEFAULT_PG_SERVER}")
    parser.add_argument("--time-limit", type=float, default=None,
                        help="abort after this many seconds (default: generous, from the number of routes)")
    parser.add_argument("--results-dir", type=Path, default=ROOT / "bench" / "results",
                        help="where to write the JSON results (default: bench/results/)")
    parser.add_argument("--no-results", action="store_true", help="do not write a JSON file")
    args = parser.parse_args(argv)
    if args.duration <= 0 or min(args.clients, args.workers, args.threads, args.rounds) < 1:
        parser.error("--duration, --clients, --workers, --threads and --rounds must be positive")
    args.rounds = max(1, min(args.rounds, int(args.duration / 0.2)))
    return args


def _on_alarm(signum, frame):
    raise BenchError("time limit reached")


def serve_and_measure(args: argparse.Namespace, scenario, size: int, database_url: str,
                      workdir: Path) -> tuple[Measurement, list[Measurement], float]:
    """Migrate, generate, start gunicorn, sign in, measure; the server is stopped whatever happens."""
    env = server_environment(database_url, workdir)
    migrate_seconds, generate_seconds, routes = prepare_database(scenario, size, env)
    print(f"scenario {args.scenario} (size {size}): migrated in {migrate_seconds:.1f} s, "
          f"data generated in {generate_seconds:.1f} s")
    if args.time_limit is None:
        # Plenty of slack for start-up and generation, but never an endless run.
        signal.alarm(int(120 + generate_seconds + (len(routes) + 1) * (args.duration + args.warmup) * 3))
    server = Server(env, workers=args.workers, threads=args.threads, log_path=workdir / "gunicorn.log")
    try:
        port = server.wait_ready()
        print(f"gunicorn gthread {args.workers} workers x {args.threads} threads on {HOST}:{port}; {args.clients} "
              f"clients; {args.duration:g} s per route in {args.rounds} rounds after {args.warmup:g} s warm-up")
        sessions = {email: sign_in(port, email) for email in sorted({r.login for r in routes if r.login})}
        reference, measured = measure_interleaved(
            port, routes, sessions, clients=args.clients, duration=args.duration, warmup=args.warmup,
            rounds=args.rounds,
        )
    finally:
        server.stop()
    return reference, measured, generate_seconds


def write_results(args: argparse.Namespace, size: int, backend: str, rows: list[Measurement],
                  generate_seconds: float) -> Path:
    """Write the run as JSON under the results directory (bench/results/ is gitignored)."""
    args.results_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = args.results_dir / f"{args.scenario}-{backend}-{stamp}.json"
    path.write_text(json.dumps({
        "scenario": args.scenario, "size": size, "database": backend, "at": stamp,
        "duration_s": args.duration, "rounds": args.rounds, "warmup_s": args.warmup, "clients": args.clients,
        "workers": args.workers, "threads": args.threads, "healthz_rps": rows[0].rps,
        "generate_s": round(generate_seconds, 2), "routes": [asdict(row) for row in rows],
    }, ensure_ascii=False, indent=2) + "\n")
    return path


def run(args: argparse.Namespace) -> int:
    """The whole benchmark on a fresh database; returns the exit status (1 when a route had errors)."""
    scenario = load_scenario(args.scenario)
    size = args.size if args.size is not None else getattr(scenario, "DEFAULT_SIZE", 1)
    backend = "postgresql" if args.postgres else "sqlite"
    print(f"database: fresh {backend}")
    workdir = Path(tempfile.mkdtemp(prefix="tsudoi-bench-"))
    try:
        with fresh_database(args.postgres, workdir) as database_url:
            reference, measured, generate_seconds = serve_and_measure(args, scenario, size, database_url, workdir)
    finally:
        signal.alarm(0)
        shutil.rmtree(workdir, ignore_errors=True)

    rows = [reference, *measured]
    for row in rows:
        row.ratio = round(row.rps / reference.rps, 3) if reference.rps > 0 else None
    print()
    print_table(reference, measured)
    if not args.no_results:
        print(f"results written to {write_results(args, size, backend, rows, generate_seconds)}")
    failed = [row.name for row in rows if row.errors or row.rps <= 0]
    if failed:
        print(f"ERRORS on: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point: parse the options, arm the time limit, run."""
    args = parse_args(argv)
    signal.signal(signal.SIGALRM, _on_alarm)
    if args.time_limit is not None:
        signal.alarm(max(1, int(args.time_limit)))
    try:
        return run(args)
    except BenchError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
