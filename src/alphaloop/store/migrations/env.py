"""Alembic environment: runs on the connection handed over by alphaloop.store.db."""

from alembic import context

from alphaloop.store.models import Base

config = context.config
target_metadata = Base.metadata

connection = config.attributes.get("connection")
if connection is None:  # pragma: no cover - alphaloop always passes a connection
    raise RuntimeError("alphaloop migrations run through alphaloop.store.Database")

context.configure(
    connection=connection,
    target_metadata=target_metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
