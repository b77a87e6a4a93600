"""Opening a registry database: SQLite by default, PostgreSQL by URL; schema via Alembic.

The database is chosen by, in order: an explicit URL (``--db`` on the command line), the
``IMMUNORESET_DATABASE_URL`` environment variable, or ``sqlite:///immunoreset.db`` in the current
directory. A bare file path is taken as a SQLite file. ``postgresql://`` URLs use psycopg 3.

The schema is created and upgraded only through the Alembic migrations shipped inside this
package (``immunoreset/registry/migrations``), so every database carries its revision.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event

from immunoreset.errors import ImmunoresetError, InvalidInput

__all__ = ["DEFAULT_URL", "ENV_VAR", "current_revision", "head_revision", "init_db", "make_engine", "resolve_url"]

ENV_VAR = "IMMUNORESET_DATABASE_URL"
DEFAULT_URL = "sqlite:///immunoreset.db"


def resolve_url(url: str | None = None) -> str:
    """The database URL to use (explicit, then ``$IMMUNORESET_DATABASE_URL``, then ./immunoreset.db)."""
    chosen = url or os.environ.get(ENV_VAR) or DEFAULT_URL
    if "://" not in chosen:
        chosen = f"sqlite:///{Path(chosen)}"
    if chosen.startswith("postgresql://") or chosen.startswith("postgres://"):
        chosen = "postgresql+psycopg://" + chosen.split("://", 1)[1]
    if not (chosen.startswith("sqlite") or chosen.startswith("postgresql")):
        raise InvalidInput("database URL", chosen, "a sqlite:///FILE or postgresql://USER@HOST/DB URL, or a file path")
    return chosen


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def make_engine(url: str | None = None) -> Engine:
    """A SQLAlchemy engine for ``url`` (see :func:`resolve_url`)."""
    resolved = resolve_url(url)
    if resolved.startswith("sqlite"):
        engine = create_engine(resolved)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(resolved, pool_pre_ping=True)


def _alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(resources.files("immunoreset.registry") / "migrations"))
    config.attributes["engine"] = engine
    return config


def head_revision() -> str:
    """The newest schema revision shipped with this version."""
    script = ScriptDirectory.from_config(_alembic_config(make_engine("sqlite://")))
    head = script.get_current_head()
    if head is None:  # pragma: no cover - the package always ships a migration
        raise ImmunoresetError("no schema migrations are installed")
    return head


def current_revision(engine: Engine) -> str | None:
    """The schema revision of the database (None when it has no registry schema)."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def init_db(engine: Engine, *, revision: str = "head") -> str:
    """Create or upgrade the schema to ``revision`` (idempotent); returns the resulting revision."""
    command.upgrade(_alembic_config(engine), revision)
    result = current_revision(engine)
    if result is None:  # pragma: no cover
        raise ImmunoresetError("schema migration did not record a revision")
    return result
