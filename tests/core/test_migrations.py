"""The migrations build, tear down and rebuild a fresh database, and match the models exactly (no drift).

The drift check catches a model changed or added without its Alembic revision, whoever wrote it.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from app.extensions import db
from tests.apps import extra_app
from tests.databases import PG_URL, pg_database

BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])


@pytest.fixture(params=BACKENDS)
def fresh_database_url(request, tmp_path):
    """A brand-new, empty database (not the one the other tests share)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
    else:
        with pg_database(PG_URL) as url:
            yield url


def _tables(conn) -> set[str]:
    return set(sa.inspect(conn).get_table_names()) - {"alembic_version"}


def _drift(conn) -> list:
    context = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": False})
    return compare_metadata(context, db.metadata)


def test_upgrade_downgrade_upgrade_and_no_drift(fresh_database_url):
    with extra_app("testing", SQLALCHEMY_DATABASE_URI=fresh_database_url) as fresh, fresh.app_context():
        upgrade(revision="heads")
        with db.engine.connect() as conn:
            assert _tables(conn) == set(db.metadata.tables), "tables differ after the first upgrade"

        downgrade(revision="base")
        with db.engine.connect() as conn:
            assert _tables(conn) == set(), "downgrade to base left tables behind"

        upgrade(revision="heads")
        with db.engine.connect() as conn:
            assert _tables(conn) == set(db.metadata.tables)
            differences = _drift(conn)
        assert differences == [], "models and migrations differ; write a revision:\n" + "\n".join(
            map(repr, differences)
        )


def test_revisions_follow_the_naming_convention():
    from pathlib import Path

    from alembic.script import ScriptDirectory
    from flask import current_app

    with extra_app("testing") as fresh, fresh.app_context():
        config = current_app.extensions["migrate"].migrate.get_config()
        revisions = list(ScriptDirectory.from_config(config).walk_revisions())
    assert [r.revision for r in revisions if r.down_revision is None] == ["0001_foundation"]
    for revision in revisions:
        # <NNNN>_<topic>.py holds revision "<NNNN>_<topic>", with both directions written.
        assert Path(revision.path).stem == revision.revision, revision.path
        assert callable(getattr(revision.module, "upgrade", None))
        assert callable(getattr(revision.module, "downgrade", None))
