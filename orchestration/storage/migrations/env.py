"""Alembic environment: migrates the app database described by ``Base.metadata``.

Run programmatically by :func:`orchestration.storage.migrate.upgrade` (which passes an open
connection) or from the shell with ``portfolio db upgrade``.
"""

from alembic import context
from sqlalchemy import create_engine

from orchestration.storage.models import Base

config = context.config
target_metadata = Base.metadata


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    engine = create_engine(config.get_main_option("sqlalchemy.url"))
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()
