"""Declarative base, column types and SQLite connection settings shared by every model."""

from __future__ import annotations

import contextvars
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, registry

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(sa.types.TypeDecorator):
    """An instant: aware UTC in Python, timestamptz on PostgreSQL, naive UTC text on SQLite."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given for a UTC column; use aware datetimes")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    """Base of every model; constraint names are stable so migrations can refer to them."""

    registry = registry(
        metadata=sa.MetaData(naming_convention=NAMING_CONVENTION),
        type_annotation_map={datetime: UTCDateTime()},
    )


# Whether the current unit of work may write. On SQLite a writing transaction starts with BEGIN IMMEDIATE
# so that it takes the write lock up front (no lock upgrade failing half-way, no lost update); a read-only
# request (GET/HEAD) starts a deferred transaction so readers never queue behind writers under WAL.
write_intent: contextvars.ContextVar[bool] = contextvars.ContextVar("tsudoi_write_intent", default=True)


def configure_sqlite(engine: Engine, *, busy_timeout_ms: int) -> None:
    """Set foreign keys, WAL, a busy timeout and IMMEDIATE write transactions on a SQLite engine."""
    if engine.dialect.name != "sqlite" or getattr(engine, "_tsudoi_configured", False):
        return
    engine._tsudoi_configured = True  # type: ignore[attr-defined]

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        # Let SQLAlchemy's "begin" event issue BEGIN itself (pysqlite's own BEGIN is always deferred).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write_intent.get() else "BEGIN")


def listen_once(target, identifier: str, fn, **kw) -> None:
    """Register an SQLAlchemy event listener unless it is registered already (create_app may run many times in
    one process: tests, benchmarks). Domains register their listeners from create_app, never at import time."""
    if not event.contains(target, identifier, fn):
        event.listen(target, identifier, fn, **kw)


def rows_by_id(rows) -> dict:
    """{row.id: row} of ROWS (models or result rows with an id), in their order."""
    return {row.id: row for row in rows}


class Dialect:
    """The few date/time SQL expressions that differ between SQLite and PostgreSQL: Dialect(engine.dialect.name)."""

    def __init__(self, name: str):
        self.sqlite = name == "sqlite"

    def day_literal(self, value):
        """A date value (or Date bind parameter) usable as a column value."""
        # SQLite stores dates as ISO text: CAST(... AS DATE) would turn '2026-04-01' into the number 2026.
        literal = value if isinstance(value, sa.BindParameter) else sa.literal(value, sa.Date)
        return literal if self.sqlite else sa.cast(literal, sa.Date)

    def next_day(self, expr):
        return sa.func.date(expr, "+1 day") if self.sqlite else expr + sa.literal(1, sa.Integer)

    def year(self, expr):
        if self.sqlite:
            return sa.cast(sa.func.strftime("%Y", expr), sa.Integer)
        return sa.cast(sa.extract("year", expr), sa.Integer)

    def month(self, expr):
        if self.sqlite:
            return sa.cast(sa.func.strftime("%m", expr), sa.Integer)
        return sa.cast(sa.extract("month", expr), sa.Integer)

    def weekday(self, expr):
        """0 = Monday ... 6 = Sunday."""
        if self.sqlite:
            return (sa.cast(sa.func.strftime("%w", expr), sa.Integer) + 6) % 7
        return sa.cast(sa.extract("isodow", expr), sa.Integer) - 1

    def minutes(self, expr):
        if self.sqlite:  # 'HH:MM:SS[.ffffff]'
            return (sa.cast(sa.func.substr(expr, 1, 2), sa.Integer) * 60
                    + sa.cast(sa.func.substr(expr, 4, 2), sa.Integer))
        return sa.cast(sa.extract("hour", expr) * 60 + sa.extract("minute", expr), sa.Integer)

    def month_key(self, expr):
        return self.year(expr) * 100 + self.month(expr)

    def fiscal_year(self, expr):
        return self.year(expr) - sa.case((self.month(expr) < 4, 1), else_=0)
