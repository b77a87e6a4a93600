"""Shared fixtures: a fresh registry database on every engine that can run here.

Registry tests take the ``registry_url`` fixture and run twice: on a SQLite file and on the PostgreSQL
server at 127.0.0.1:5432 (database ``test``, trust auth; override with ``IMMUNORESET_TEST_POSTGRES``).
Each PostgreSQL test gets its own schema (dropped afterwards), so tests never see each other's rows.
PostgreSQL is skipped only when no server answers, and the skip says so.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

POSTGRES = os.environ.get("IMMUNORESET_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


def _postgres_available() -> str | None:
    try:
        import psycopg

        with psycopg.connect(POSTGRES, connect_timeout=3):
            return None
    except Exception as err:  # any failure to connect means: no server here
        return f"no PostgreSQL server answers at {POSTGRES}: {str(err).splitlines()[0]}"


_PG_SKIP = _postgres_available()


@pytest.fixture(params=["sqlite", "postgresql"])
def registry_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL of an empty database (no schema yet) on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'registry.db'}"
        return
    yield from _postgresql_schema()


@pytest.fixture
def postgresql_url() -> Iterator[str]:
    """A URL of an empty PostgreSQL schema, for what only PostgreSQL has (logins, row-level security)."""
    yield from _postgresql_schema()


def _postgresql_schema() -> Iterator[str]:
    if _PG_SKIP:
        pytest.skip(_PG_SKIP)
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{POSTGRES}?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(POSTGRES, autocommit=True) as conn:
            database = conn.execute("SELECT current_database()").fetchone()[0]  # type: ignore[index]
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
            # the registry's group role (migration 0003) and the test's logins (names ending in the schema)
            conn.execute(f'DROP ROLE IF EXISTS "ir_{database}_{schema}_w"')
            conn.execute(f'DROP ROLE IF EXISTS "ir_{database}_{schema}"')
            for (login,) in conn.execute("SELECT rolname FROM pg_roles WHERE rolname LIKE %s", (f"%{schema}",)):
                conn.execute(f'DROP ROLE "{login}"')


def login_name(registry_url: str, name: str) -> str:
    """A registry user name for a test: on PostgreSQL suffixed with the test's schema, because database
    logins are shared by the whole server (the fixture drops them afterwards)."""
    if registry_url.startswith("sqlite"):
        return name
    return f"{name}_{registry_url.rsplit('%3D', 1)[1]}"


@pytest.fixture(scope="session")
def sample_truth() -> object:
    """The study the shipped sample REDCap project was made from (``immunoreset redcap sample``):
    ``(study, design, boundary edits)``, simulated anew — the truth an import of the sample must give back."""
    from immunoreset.trial.redcap_project import sample_study

    return sample_study()


def url_as(registry_url: str, login: str) -> str:
    """The PostgreSQL test URL with ``login`` as its user (trust authentication here: the server lets the
    test connect as any existing login, as a password or certificate would elsewhere)."""
    from sqlalchemy.engine import make_url

    return make_url(registry_url).set(username=login).render_as_string(hide_password=False)
