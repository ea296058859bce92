"""Alembic migrations for the project's own tables (ps_*); run through promptsearch.storage.schema."""
