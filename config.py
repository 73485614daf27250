"""Configuration classes, chosen by TSUDOI_ENV (development, testing, production); values from the environment."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from dotenv import load_dotenv

BASE_DIR = Path(__file__).resolve().parent
INSTANCE_DIR = Path(os.environ.get("TSUDOI_INSTANCE_DIR", BASE_DIR / "instance"))

# A .env file beside this one is read when present; real environment variables win.
load_dotenv(BASE_DIR / ".env", override=False)


def _bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _development_secret_key() -> str:
    """Return a secret key kept in instance/, generating it on first use (development only)."""
    INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
    path = INSTANCE_DIR / "secret_key"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


class Config:
    """Settings shared by every environment."""

    ENV_NAME = "base"
    SQLALCHEMY_DATABASE_URI = os.environ.get(
        "DATABASE_URL", f"sqlite:///{INSTANCE_DIR / 'tsudoi.sqlite3'}"
    )
    SQLALCHEMY_ENGINE_OPTIONS: dict = {"pool_pre_ping": True}
    SQLITE_BUSY_TIMEOUT_MS = int(os.environ.get("SQLITE_BUSY_TIMEOUT_MS", "15000"))
    REDIS_URL = os.environ.get("REDIS_URL") or None
    BASE_URL = os.environ.get("BASE_URL", "http://127.0.0.1:5000").rstrip("/")

    # Mail: "smtp" delivers, "console" prints (development), "outbox" leaves rows for tests to read.
    MAIL_BACKEND = os.environ.get("MAIL_BACKEND", "smtp")
    MAIL_SERVER = os.environ.get("MAIL_SERVER", "localhost")
    MAIL_PORT = int(os.environ.get("MAIL_PORT", "25"))
    MAIL_USE_TLS = _bool("MAIL_USE_TLS", False)
    MAIL_USE_SSL = _bool("MAIL_USE_SSL", False)
    MAIL_USERNAME = os.environ.get("MAIL_USERNAME") or None
    MAIL_PASSWORD = os.environ.get("MAIL_PASSWORD") or None
    MAIL_DEFAULT_SENDER = os.environ.get("MAIL_DEFAULT_SENDER", "Tsudoi <noreply@tsudoi.example.jp>")
    MAIL_SEND_AFTER_REQUEST = False
    MAIL_MAX_ATTEMPTS = 5
    # Optional: with REDIS_URL set, MAIL_QUEUE=rq delivers mail through an RQ queue right after the request
    # (app/core/mail_queue.py); the outbox and `flask jobs run-due` still guarantee delivery without it.
    MAIL_QUEUE = os.environ.get("MAIL_QUEUE", "")
    MAIL_RQ_QUEUE = os.environ.get("MAIL_RQ_QUEUE", "tsudoi-mail")

    # The first fiscal year whose bookings and events the ward keeps in Tsudoi (e.g. 2026); every computed
    # indicator value of an earlier year is unknown (null), never 0. Unset: each source starts at its first record.
    TSUDOI_FIRST_FISCAL_YEAR = int(os.environ["TSUDOI_FIRST_FISCAL_YEAR"]) if os.environ.get(
        "TSUDOI_FIRST_FISCAL_YEAR") else None

    # Security
    SESSION_COOKIE_NAME = "tsudoi_session"
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = False
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    MAX_CONTENT_LENGTH = int(os.environ.get("MAX_CONTENT_LENGTH", str(8 * 1024 * 1024)))
    # Views marked @accepts_uploads (app/core/uploads.py) take bodies up to this, so their forms answer an
    # image over its 5 MB limit themselves with everything typed kept.
    UPLOAD_MAX_CONTENT_LENGTH = int(os.environ.get("UPLOAD_MAX_CONTENT_LENGTH", str(32 * 1024 * 1024)))
    # People not signed in send small forms only (app/core/uploads.py): body, multipart field and field count.
    ANONYMOUS_MAX_CONTENT_LENGTH = int(os.environ.get("ANONYMOUS_MAX_CONTENT_LENGTH", str(64 * 1024)))
    ANONYMOUS_MAX_FORM_MEMORY_SIZE = int(os.environ.get("ANONYMOUS_MAX_FORM_MEMORY_SIZE", str(64 * 1024)))
    ANONYMOUS_MAX_FORM_PARTS = int(os.environ.get("ANONYMOUS_MAX_FORM_PARTS", "100"))
    WTF_CSRF_TIME_LIMIT = None  # the token lives as long as the session
    HSTS = False
    PROXY_FIX_X_FOR = int(os.environ.get("PROXY_FIX_X_FOR", "0"))  # reverse proxies in front of us
    LOGIN_FAILURE_LIMIT = os.environ.get("LOGIN_FAILURE_LIMIT", "5 per 15 minutes")
    LOGIN_ACCOUNT_FAILURE_LIMIT = os.environ.get("LOGIN_ACCOUNT_FAILURE_LIMIT", "10 per 15 minutes")
    # Past the account's failure limit, origins that never signed in to it get this many attempts (see
    # app/accounts/limits.py); its device cookie and addresses it signed in from within LOGIN_KNOWN_ADDRESS_DAYS
    # are not held back.
    LOGIN_ACCOUNT_SLOWDOWN = os.environ.get("LOGIN_ACCOUNT_SLOWDOWN", "1 per minute")
    LOGIN_KNOWN_ADDRESS_DAYS = int(os.environ.get("LOGIN_KNOWN_ADDRESS_DAYS", "90"))
    RATELIMIT_HEADERS_ENABLED = True
    # While the database cannot be reached, pages and the API answer 503 with this Retry-After (seconds).
    DATABASE_RETRY_AFTER_S = 30
    EMAIL_TOKEN_MAX_AGE_S = 60 * 60 * 24 * 3
    PASSWORD_RESET_MAX_AGE_S = 60 * 60
    # A signed-in browser must sign in again after this long, so a copied cookie does not live forever.
    USER_SESSION_MAX_AGE_S = int(os.environ.get("USER_SESSION_MAX_AGE_S", str(60 * 60 * 24 * 14)))
    PASSWORD_MIN_LENGTH = 10

    # Bookings: numbers are configuration. The claims guard exists to be switched off ONLY by the concurrency
    # test's control run, which shows the race test would catch a missing guard.
    BOOKING_UNDO_MINUTES = int(os.environ.get("BOOKING_UNDO_MINUTES", "15"))

    # Check-in at the door is open on the occurrence's day (Tokyo) only: from this many minutes before the start
    # (never before that day begins; unset: from the start of the day) through the end of that day.
    CHECKIN_OPENS_MINUTES_BEFORE = (int(os.environ["CHECKIN_OPENS_MINUTES_BEFORE"])
                                    if os.environ.get("CHECKIN_OPENS_MINUTES_BEFORE") else None)
    # A web request's booking changes mark their utilization rollup keys stale and are recomputed after the
    # response is sent (app/utilization/rollup.py); off: recomputed before the request's commit, as jobs do.
    UTILIZATION_ROLLUP_DEFER = _bool("UTILIZATION_ROLLUP_DEFER", True)

    # Alerts and reminders (app/alerts): watches per user (days from today on), how far ahead one may watch, how
    # long a freed slot stays on the public list, the Tokyo hour of day-before reminders, and how long before a
    # 仮予約's payment deadline its reminder goes out.
    ALERTS_MAX_WATCHES = int(os.environ.get("ALERTS_MAX_WATCHES", "20"))
    ALERTS_MAX_DAYS_AHEAD = int(os.environ.get("ALERTS_MAX_DAYS_AHEAD", "400"))
    ALERTS_FREED_LIST_DAYS = int(os.environ.get("ALERTS_FREED_LIST_DAYS", "7"))
    ALERTS_REMINDER_HOUR = int(os.environ.get("ALERTS_REMINDER_HOUR", "10"))
    ALERTS_PAYMENT_REMINDER_HOURS = int(os.environ.get("ALERTS_PAYMENT_REMINDER_HOURS", "24"))

    # Participation reports (app/participation/reports.py): ward staff approve a report before it counts in the
    # indicators, unless this is on and the group is verified. Reminders: first one DUE_DAYS after the event
    # ends, then every INTERVAL_DAYS, at most MAX of them.
    PARTICIPATION_VERIFIED_REPORTS_COUNT_ON_SUBMISSION = _bool("PARTICIPATION_VERIFIED_REPORTS_COUNT_ON_SUBMISSION",
                                                               False)
    PARTICIPATION_REPORT_DUE_DAYS = int(os.environ.get("PARTICIPATION_REPORT_DUE_DAYS", "7"))
    PARTICIPATION_REMINDER_INTERVAL_DAYS = int(os.environ.get("PARTICIPATION_REMINDER_INTERVAL_DAYS", "7"))
    PARTICIPATION_REMINDER_MAX = int(os.environ.get("PARTICIPATION_REMINDER_MAX", "3"))

    # Languages
    BABEL_DEFAULT_LOCALE = "ja"
    BABEL_DEFAULT_TIMEZONE = "Asia/Tokyo"
    BABEL_TRANSLATION_DIRECTORIES = "translations"

    # API / OpenAPI (flask-smorest); the docs page is our own, with vendored assets.
    API_TITLE = "Tsudoi API"
    API_VERSION = "v1"
    OPENAPI_VERSION = "3.0.3"
    OPENAPI_URL_PREFIX = "/api/v1"
    OPENAPI_JSON_PATH = "openapi.json"

    @property
    def RATELIMIT_STORAGE_URI(self) -> str:  # noqa: N802 - Flask config name
        return self.REDIS_URL or "memory://"

    @property
    def ALLOW_MEMORY_LIMITS(self) -> bool:  # noqa: N802
        """Production only: start without REDIS_URL, rate limits in each process's memory (one process only)."""
        return _bool("TSUDOI_ALLOW_MEMORY_LIMITS", False)


class DevelopmentConfig(Config):
    """A newcomer's machine: SQLite, console mail sent after each request."""

    ENV_NAME = "development"
    DEBUG = True
    MAIL_BACKEND = os.environ.get("MAIL_BACKEND", "console")
    MAIL_SEND_AFTER_REQUEST = True

    @property
    def SECRET_KEY(self) -> str:  # noqa: N802
        return os.environ.get("SECRET_KEY") or _development_secret_key()


class TestingConfig(Config):
    """The test suite: a database given by the fixtures, mail left in the outbox."""

    ENV_NAME = "testing"
    TESTING = True
    SECRET_KEY = "test-secret-key-not-for-production"  # noqa: S105
    MAIL_BACKEND = "outbox"
    SERVER_NAME = None
    # Cheap argon2id for tests only: hashing at production cost dominated the suite's run time.
    ARGON2_PARAMS = {"time_cost": 1, "memory_cost": 1024, "parallelism": 1}
    BASE_URL = "http://localhost"


class ProductionConfig(Config):
    """Behind a reverse proxy with PostgreSQL and Redis; SECRET_KEY is required."""

    ENV_NAME = "production"
    SESSION_COOKIE_SECURE = True
    REMEMBER_COOKIE_SECURE = True
    HSTS = True
    PROXY_FIX_X_FOR = int(os.environ.get("PROXY_FIX_X_FOR", "1"))

    @property
    def SECRET_KEY(self) -> str:  # noqa: N802
        key = os.environ.get("SECRET_KEY")
        if not key:
            raise RuntimeError("SECRET_KEY must be set in production")
        return key


CONFIGS: dict[str, type[Config]] = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}


def get_config(name: str | None = None) -> Config:
    """Return the config object for NAME, or for TSUDOI_ENV (default: development)."""
    name = name or os.environ.get("TSUDOI_ENV", "development")
    try:
        return CONFIGS[name]()
    except KeyError:
        raise RuntimeError(f"Unknown TSUDOI_ENV {name!r}; use one of {sorted(CONFIGS)}") from None
