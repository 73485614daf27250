"""Tsudoi application factory."""

from __future__ import annotations

from pathlib import Path

from flask import Flask, g, request
from werkzeug.middleware.proxy_fix import ProxyFix

from config import BASE_DIR, INSTANCE_DIR, get_config


def create_app(config_name: str | None = None, **overrides) -> Flask:
    """Build the app: config -> extensions -> blueprints -> CLI -> errors/filters. Touches no database."""
    app = Flask(
        __name__,
        instance_path=str(INSTANCE_DIR),
        template_folder=str(BASE_DIR / "templates"),
        static_folder=str(BASE_DIR / "static"),
    )
    app.config.from_object(get_config(config_name))
    app.config.update(overrides)
    _check_limit_storage(app)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    if app.config["PROXY_FIX_X_FOR"]:
        n = app.config["PROXY_FIX_X_FOR"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)  # type: ignore[method-assign]

    from app.core.converters import BoundedIntConverter

    app.url_map.converters["int"] = BoundedIntConverter  # before any route: ids beyond the column are a 404
    _init_extensions(app)
    _register_blueprints(app)
    _init_hooks(app)
    return app


MEMORY_LIMITS_WARNING = (
    "Rate limits are kept in this process's memory (no REDIS_URL): every worker process counts on its own, so "
    "N workers allow N times the login attempts. Set REDIS_URL unless exactly one process serves."
)


def _check_limit_storage(app: Flask) -> None:
    """Production refuses to start with rate limits in process memory, unless TSUDOI_ALLOW_MEMORY_LIMITS=1 says
    that one process serves (then it warns in the log; `flask doctor` warns too)."""
    if app.config.get("ENV_NAME") != "production":
        return
    if not str(app.config.get("RATELIMIT_STORAGE_URI") or "memory://").startswith("memory://"):
        return
    if not app.config.get("ALLOW_MEMORY_LIMITS"):
        raise RuntimeError(
            "REDIS_URL must be set in production: rate limits in process memory are per worker, so 4 workers "
            "would allow 4 times the login attempts. Set REDIS_URL, or TSUDOI_ALLOW_MEMORY_LIMITS=1 if exactly "
            "one process serves (see docs/deploy.md)."
        )
    app.logger.warning(MEMORY_LIMITS_WARNING)


def _init_extensions(app: Flask) -> None:
    from app.core import i18n
    from app.core.db import configure_sqlite, write_intent
    from app.extensions import api, babel, csrf, db, limiter, login_manager, migrate

    db.init_app(app)
    with app.app_context():
        # Engine creation is lazy and opens no connection; this only attaches the SQLite settings.
        configure_sqlite(db.engine, busy_timeout_ms=app.config["SQLITE_BUSY_TIMEOUT_MS"])

    @app.before_request
    def _write_intent():
        g.write_intent_token = write_intent.set(request.method not in {"GET", "HEAD", "OPTIONS"})

    @app.teardown_request
    def _write_intent_reset(_exc):
        # Without this a GET left the thread "read-only": later work outside a request (CLI, tests,
        # background jobs) would begin deferred transactions on SQLite.
        token = g.pop("write_intent_token", None)
        if token is not None:
            try:
                write_intent.reset(token)
            except (ValueError, RuntimeError):  # set in another context: fall back to the default
                write_intent.set(True)

    migrate.init_app(app, db, directory=str(BASE_DIR / "migrations"), render_as_batch=True, compare_type=True)
    from app.core import uploads

    uploads.init_app(app)  # before CSRF protection reads the form: upload views take larger bodies
    csrf.init_app(app)
    login_manager.init_app(app)
    babel.init_app(app, locale_selector=i18n.locale_selector)
    i18n.init_app(app)
    app.config.setdefault("RATELIMIT_STORAGE_URI", "memory://")
    limiter.init_app(app)
    api.init_app(app)


def _register_blueprints(app: Flask) -> None:
    from app import jobs, models  # noqa: F401 - every table known to SQLAlchemy and Alembic; every job registered
    from app.accounts import commands as account_commands
    from app.accounts import views as account_views
    from app.alerts import views as alert_views
    from app.api import init_api
    from app.bookings import availability_views
    from app.bookings import commands as booking_commands
    from app.bookings import views as booking_views
    from app.core import commands as core_commands
    from app.core import doctor
    from app.core import views as core_views
    from app.dashboards import views as dashboard_views
    from app.demo import commands as demo_commands
    from app.events import views as event_views
    from app.extensions import login_manager
    from app.facilities import views as facility_views
    from app.indicators import commands as indicator_commands
    from app.indicators import views as indicator_views
    from app.lottery import commands as lottery_commands
    from app.lottery import views as lottery_views
    from app.opendata import views as opendata_views
    from app.organizations import commands as organization_commands
    from app.organizations import views as organization_views
    from app.participation import views as participation_views
    from app.portal import views as portal_views
    from app.utilization import commands as utilization_commands

    account_views.init_login(login_manager)
    app.register_blueprint(core_views.bp)
    app.register_blueprint(account_views.bp)
    app.register_blueprint(core_commands.bp)
    app.register_blueprint(core_commands.jobs_bp)
    app.register_blueprint(doctor.bp)
    app.register_blueprint(account_commands.bp)
    app.register_blueprint(demo_commands.bp)
    app.register_blueprint(organization_views.bp)
    app.register_blueprint(organization_commands.bp)
    app.register_blueprint(event_views.bp)
    app.register_blueprint(participation_views.bp)
    app.register_blueprint(facility_views.bp)
    app.register_blueprint(availability_views.bp)
    app.register_blueprint(booking_views.bp)
    app.register_blueprint(alert_views.bp)
    app.register_blueprint(booking_commands.bp)
    app.register_blueprint(lottery_commands.bp)
    app.register_blueprint(lottery_views.bp)
    app.register_blueprint(indicator_commands.bp)
    app.register_blueprint(indicator_views.bp)
    app.register_blueprint(dashboard_views.bp)
    app.register_blueprint(utilization_commands.bp)
    app.register_blueprint(opendata_views.bp)
    app.register_blueprint(portal_views.bp)
    _init_domains(app)
    init_api(app)
    from app.api import init_docs

    init_docs(app)


def _init_domains(app: Flask) -> None:
    """Listeners and hooks that let a lower domain's writes reach a higher one, registered here rather than at import
    time (each registers once per process, however many apps are created)."""
    from app.alerts import services as alert_services
    from app.events import venue
    from app.indicators import cache as indicator_cache
    from app.utilization import rollup as utilization_rollup

    utilization_rollup.init_app(app)
    indicator_cache.init_app(app)
    alert_services.init_app(app)
    venue.init_app(app)


def _init_hooks(app: Flask) -> None:
    from app.core import errors, filters, mail, mail_queue, security

    errors.init_app(app)
    filters.init_app(app)
    security.init_app(app)
    mail.init_app(app)
    mail_queue.init_app(app)
