"""Alembic environment: always run in-process by filegate.catalog.migrate."""

from alembic import context

from filegate.catalog.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("filegate migrations run through `filegate db upgrade` or at start-up")

context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
