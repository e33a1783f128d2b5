"""Alembic environment: the relay passes its engine's connection in ``config.attributes``."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import relay.storage.audiences.tables
import relay.storage.catalog.tables
import relay.storage.tables  # noqa: F401  (registers the tables on the metadata)

connection = context.config.attributes.get("connection")
target_metadata = SQLModel.metadata

if connection is None:
    from sqlalchemy import create_engine

    engine = create_engine(context.config.get_main_option("sqlalchemy.url") or "sqlite:///relay.db")
    with engine.connect() as conn:
        context.configure(connection=conn, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
else:
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
