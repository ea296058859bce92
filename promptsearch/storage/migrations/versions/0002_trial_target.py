"""The search's shared trial target, which parallel workers claim trials against.

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # NULL: no shared target yet (a search made before workers existed, or by `optimize`
    # before it stored one); workers then start from the number of finished trials.
    with op.batch_alter_table("ps_searches") as batch:
        batch.add_column(sa.Column("target_trials", sa.Integer, nullable=True))
    _set_meta_version("2")


def downgrade() -> None:
    with op.batch_alter_table("ps_searches") as batch:
        batch.drop_column("target_trials")
    _set_meta_version("1")


def _set_meta_version(value: str) -> None:
    meta = sa.table("ps_meta", sa.column("key", sa.String), sa.column("value", sa.Text))
    op.execute(meta.update().where(meta.c.key == "schema_version").values(value=value))
