"""Alembic environment: always run programmatically by promptsearch.storage.schema, which passes an
open connection (inside one transaction) in `config.attributes`. There is no alembic.ini."""
from alembic import context

from promptsearch.storage.schema import VERSION_TABLE, include_object, target_metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=target_metadata(),
                  version_table=VERSION_TABLE, include_object=include_object,
                  render_as_batch=connection.dialect.name == "sqlite")  # SQLite's ALTER is limited
with context.begin_transaction():
    context.run_migrations()
