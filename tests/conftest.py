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
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(scope="session")
def sample_truth() -> object:
    """The study the shipped sample REDCap project was made from (``immunoreset redcap sample``):
    ``(study, design, boundary edits)``, simulated anew — the truth an import of the sample must give back."""
    from immunoreset.trial.redcap_project import sample_study

    return sample_study()
