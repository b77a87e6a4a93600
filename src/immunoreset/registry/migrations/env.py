"""Alembic environment for the immunoreset registry (engine passed in by immunoreset.registry.engine)."""

from __future__ import annotations

from alembic import context

from immunoreset.registry.schema import Base

config = context.config
engine = config.attributes["engine"]

with engine.begin() as connection:
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
