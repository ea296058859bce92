"""Who runs each trial (ps_trial_owners, replacing the owner in Optuna's trial attributes and
Optuna's own heartbeat table), a metric's feedback per cached evaluation, a proposal's screening
score, and the kind of a stored held-out result (a verdict, or e.g. a probe).

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ps_trial_owners",
        sa.Column("search_id", sa.Integer, sa.ForeignKey("ps_searches.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("number", sa.Integer, primary_key=True),
        sa.Column("owner", sa.JSON, nullable=False),
        sa.Column("heartbeat", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.func.current_timestamp()),
        sa.Column("failed_stale", sa.Boolean, nullable=False),
        sa.Column("requeued", sa.Boolean, nullable=False),
    )
    with op.batch_alter_table("ps_evaluations") as batch:
        batch.add_column(sa.Column("feedback", sa.Text, nullable=True))
    with op.batch_alter_table("ps_proposals") as batch:
        batch.add_column(sa.Column("screen_score", sa.Float, nullable=True))
    with op.batch_alter_table("ps_verdicts") as batch:
        batch.add_column(sa.Column("kind", sa.String(16), nullable=False, server_default="verdict"))
    _set_meta_version("4")


def downgrade() -> None:
    with op.batch_alter_table("ps_verdicts") as batch:
        batch.drop_column("kind")
    with op.batch_alter_table("ps_proposals") as batch:
        batch.drop_column("screen_score")
    with op.batch_alter_table("ps_evaluations") as batch:
        batch.drop_column("feedback")
    op.drop_table("ps_trial_owners")
    _set_meta_version("3")


def _set_meta_version(value: str) -> None:
    meta = sa.table("ps_meta", sa.column("key", sa.String), sa.column("value", sa.Text))
    op.execute(meta.update().where(meta.c.key == "schema_version").values(value=value))
