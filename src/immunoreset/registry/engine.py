"""Opening a registry database: SQLite by default, PostgreSQL by URL; schema via Alembic.

The database is chosen by, in order: an explicit URL (``--db`` on the command line), the
``IMMUNORESET_DATABASE_URL`` environment variable, or ``sqlite:///immunoreset.db`` in the current
directory. A bare file path is taken as a SQLite file. ``postgresql://`` URLs use psycopg 3.

The schema is created and upgraded only through the Alembic migrations shipped inside this
package (``immunoreset/registry/migrations``), so every database carries its revision.

On PostgreSQL the database login *is* the registry user (revision 0003: row-level security); ``login``
of :func:`make_engine` sets the URL's user name, and the password comes from the URL, ``PGPASSWORD`` or
``~/.pgpass`` as for any libpq client. A SQLite URL must name an existing file unless ``create=True``
(``db init``): a mistyped path is an error, not a new empty registry.

Waiting: a lock held by another writer is waited for at most ``$IMMUNORESET_LOCK_TIMEOUT`` seconds (default
30; SQLite ``busy_timeout``, PostgreSQL ``lock_timeout``), a PostgreSQL server for 10 s to connect; then the
command stops with one line saying the registry is busy or unreachable (:func:`describe_database_error`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url

from immunoreset.errors import ImmunoresetError, InvalidInput

__all__ = [
    "DEFAULT_URL",
    "ENV_VAR",
    "LOCK_TIMEOUT_VAR",
    "RegistryBusy",
    "current_revision",
    "database_schema",
    "describe_database_error",
    "head_revision",
    "init_db",
    "lock_timeout_seconds",
    "make_engine",
    "masked_url",
    "resolve_url",
    "write_transaction",
]

ENV_VAR = "IMMUNORESET_DATABASE_URL"
LOCK_TIMEOUT_VAR = "IMMUNORESET_LOCK_TIMEOUT"
DEFAULT_URL = "sqlite:///immunoreset.db"
CONNECT_TIMEOUT_SECONDS = 10


class RegistryBusy(ImmunoresetError):
    """Another writer held the registry longer than the lock timeout."""


def masked_url(url: Any) -> str:
    """``url`` (text or a SQLAlchemy URL) with every password replaced by ``***`` — the URL's own and a
    ``password=`` query parameter — for messages and files; never print a password."""
    text = url.render_as_string(hide_password=False) if hasattr(url, "render_as_string") else str(url)
    head, sep, rest = text.partition("://")
    if not sep:
        return text
    location, qmark, query = rest.partition("?")
    if query:
        parts = [
            f"{key}=***" if key.lower() in ("password", "passfile", "sslpassword") else f"{key}{eq}{value}"
            for key, eq, value in (part.partition("=") for part in query.split("&"))
        ]
        query = "&".join(parts)
    if "@" in location:
        credentials, _, host = location.rpartition("@")  # the last @: an unencoded @ in a password stays hidden
        user = credentials.split(":", 1)[0] if ":" in credentials else credentials
        location = f"{user}:***@{host}" if ":" in credentials or credentials.count("@") else f"{user}@{host}"
        if "@" in user:
            location = f"***@{host}"
    return f"{head}://{location}{qmark}{query}"


def lock_timeout_seconds() -> float:
    """How long to wait for another writer's lock (``$IMMUNORESET_LOCK_TIMEOUT``, default 30 s)."""
    text = os.environ.get(LOCK_TIMEOUT_VAR, "30")
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value <= 86400:
        raise InvalidInput(LOCK_TIMEOUT_VAR, text, "a number of seconds from 0 (exclusive) to 86400")
    return value


def resolve_url(url: str | None = None) -> str:
    """The database URL to use (explicit, then ``$IMMUNORESET_DATABASE_URL``, then ./immunoreset.db)."""
    chosen = url or os.environ.get(ENV_VAR) or DEFAULT_URL
    if "://" not in chosen:
        chosen = f"sqlite:///{Path(chosen)}"
    if chosen.startswith("postgresql://") or chosen.startswith("postgres://"):
        chosen = "postgresql+psycopg://" + chosen.split("://", 1)[1]
    if not (chosen.startswith("sqlite") or chosen.startswith("postgresql")):
        raise InvalidInput(
            "database URL", masked_url(chosen), "a sqlite:///FILE or postgresql://USER@HOST/DB URL, or a file path"
        )
    try:
        parsed = make_url(chosen)
    except Exception:
        raise InvalidInput("database URL", masked_url(chosen), "a well-formed database URL") from None
    if parsed.host and "@" in parsed.host:
        raise InvalidInput("database URL", masked_url(chosen), "a URL whose password has its @ percent-encoded (%40)")
    return chosen


def _sqlite_connect(timeout_ms: int) -> Any:
    def connect(dbapi_connection: Any, _record: Any) -> None:
        # pysqlite's own transaction handling would start a transaction only at the first write, after the
        # audit head was read; immunoreset begins every transaction itself (see _sqlite_begin).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={timeout_ms}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.close()

    return connect


def _sqlite_begin(connection: Connection) -> None:
    # A write transaction takes SQLite's write lock at BEGIN, so what it reads first (the audit head) cannot
    # change under it; reads begin deferred and never wait for a writer (WAL).
    write = connection.get_execution_options().get("registry_write", False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def _postgresql_connect(timeout_ms: int) -> Any:
    def connect(dbapi_connection: Any, _record: Any) -> None:
        autocommit = dbapi_connection.autocommit
        dbapi_connection.autocommit = True
        with dbapi_connection.cursor() as cursor:
            cursor.execute(f"SET lock_timeout = {timeout_ms}")
        dbapi_connection.autocommit = autocommit

    return connect


def make_engine(url: str | None = None, *, login: str | None = None, create: bool = False) -> Engine:
    """A SQLAlchemy engine for ``url`` (see :func:`resolve_url`).

    ``login``: on PostgreSQL, connect as this database role (an error if the URL names another user).
    ``create``: a SQLite file that does not exist yet may be created (``db init``); otherwise it is an error.
    """
    resolved = resolve_url(url)
    timeout_ms = int(lock_timeout_seconds() * 1000)
    if resolved.startswith("sqlite"):
        if login is not None:
            raise InvalidInput("user", login, "no --user for a SQLite file unless the file holds that registry user")
        database = make_url(resolved).database
        if database and database != ":memory:" and not create and not Path(database).is_file():
            raise InvalidInput(
                "database", database, "an existing registry file (create one with `immunoreset db init --db FILE`)"
            )
        engine = create_engine(resolved)
        event.listen(engine, "connect", _sqlite_connect(timeout_ms))
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    parsed = make_url(resolved)
    if login is not None:
        if parsed.username and parsed.username != login:
            raise InvalidInput(
                "user", login, f"the user the database URL names ({parsed.username}), or no --user at all"
            )
        parsed = parsed.set(username=login)
    engine = create_engine(parsed, pool_pre_ping=True, connect_args={"connect_timeout": CONNECT_TIMEOUT_SECONDS})
    event.listen(engine, "connect", _postgresql_connect(timeout_ms))
    return engine


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """One write transaction that holds the registry's write lock from its first statement.

    SQLite: ``BEGIN IMMEDIATE`` (a second writer waits up to the lock timeout, then :class:`RegistryBusy`).
    PostgreSQL: a normal transaction; writers serialise on the audit head row (``SELECT … FOR UPDATE``).
    """
    with engine.connect() as connection:
        connection = connection.execution_options(registry_write=True)
        with connection.begin():
            yield connection


def database_schema(engine: Engine) -> str | None:
    """The PostgreSQL schema the registry lives in (``current_schema()``; None on SQLite)."""
    if engine.dialect.name != "postgresql":
        return None
    with engine.connect() as connection:
        return str(connection.exec_driver_sql("SELECT current_schema()").scalar_one())


def describe_database_error(error: BaseException, url: str | None = None) -> ImmunoresetError:
    """One line for a database failure: the cause, with the URL's password masked and no SQL parameters.

    Database drivers put the statement and its parameters (patient rows) into their messages; only the
    driver's first line is kept (PostgreSQL puts the key values of a violated constraint on its DETAIL line).
    """
    where = f" at {masked_url(resolve_url(url))}" if url is not None else ""
    original = getattr(error, "orig", None) or error
    first_line = (str(original).strip().splitlines() or [type(original).__name__])[0]
    code = getattr(original, "sqlstate", None) or ""
    text = first_line.lower()
    if code == "55P03" or "lock timeout" in text or "database is locked" in text:
        return RegistryBusy(
            f"the registry{where} is busy: another user is writing to it (waited {lock_timeout_seconds():g} s; "
            f"try again, or raise {LOCK_TIMEOUT_VAR})"
        )
    if isinstance(error, sa_exc.IntegrityError) or code.startswith("23"):
        return ImmunoresetError(f"the registry{where} refused a write that breaks one of its rules: {first_line}")
    unreachable = "unable to open database file" in text or "connection" in text or "could not" in text
    if isinstance(error, sa_exc.OperationalError | sa_exc.InterfaceError) and (unreachable or not code):
        return ImmunoresetError(f"cannot open the registry database{where}: {first_line}")
    if code == "42501" or "permission denied" in text or "row-level security" in text:
        return ImmunoresetError(f"the database refused this for the current login{where}: {first_line}")
    return ImmunoresetError(f"database error{where}: {first_line}")


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
