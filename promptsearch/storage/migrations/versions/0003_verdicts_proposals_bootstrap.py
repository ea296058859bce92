"""Held-out verdicts (verdicts.py), proposed instructions with their rounds (proposals.py) and
bootstrapped demonstrations (bootstrap.py).

Versions before 0004 also created these tables on first use, so a database may already have
them when it is upgraded: each table is created only if missing.

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TABLES = ("ps_verdicts", "ps_proposals", "ps_proposal_rounds", "ps_bootstrap_demos")


def _search_id() -> sa.Column:
    return sa.Column("search_id", sa.Integer, sa.ForeignKey("ps_searches.id", ondelete="CASCADE"),
                     nullable=False)


def _created() -> sa.Column:
    return sa.Column("created", sa.DateTime(timezone=True), nullable=False)


def upgrade() -> None:
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    if "ps_verdicts" not in existing:
        op.create_table(
            "ps_verdicts",
            sa.Column("id", sa.Integer, primary_key=True),
            _search_id(),
            sa.Column("split", sa.String(16), nullable=False),
            sa.Column("examples", sa.Integer, nullable=False),
            sa.Column("model", sa.String(500), nullable=False),
            sa.Column("baseline", sa.String(1000), nullable=False),
            sa.Column("best_hash", sa.String(64), nullable=False),
            sa.Column("baseline_hash", sa.String(64), nullable=False),
            sa.Column("best_score", sa.Float, nullable=False),
            sa.Column("baseline_score", sa.Float, nullable=False),
            sa.Column("difference", sa.Float, nullable=False),
            sa.Column("p_value", sa.Float, nullable=False),
            sa.Column("test", sa.String(100), nullable=False),
            sa.Column("warning", sa.Text, nullable=True),
            sa.Column("details", sa.JSON, nullable=False),
            _created(),
        )
        op.create_index("ix_ps_verdicts_search_id", "ps_verdicts", ["search_id"])
    if "ps_proposals" not in existing:
        op.create_table(
            "ps_proposals",
            sa.Column("id", sa.Integer, primary_key=True),
            _search_id(),
            sa.Column("round", sa.Integer, nullable=False),
            sa.Column("method", sa.String(32), nullable=False),
            sa.Column("text", sa.Text, nullable=False),
            sa.Column("accepted", sa.Boolean, nullable=False),
            sa.Column("reason", sa.String(200), nullable=True),
            sa.Column("pool_index", sa.Integer, nullable=True),
            sa.Column("parents", sa.JSON, nullable=False),
            sa.Column("prompt", sa.Text, nullable=False),
            sa.Column("raw", sa.Text, nullable=False),
            sa.Column("proposer", sa.String(500), nullable=False),
            sa.Column("enqueued", sa.Boolean, nullable=False),
            _created(),
        )
        op.create_index("ix_ps_proposals_search_id", "ps_proposals", ["search_id"])
    if "ps_proposal_rounds" not in existing:
        op.create_table(
            "ps_proposal_rounds",
            sa.Column("id", sa.Integer, primary_key=True),
            _search_id(),
            sa.Column("round", sa.Integer, nullable=False),
            sa.Column("method", sa.String(32), nullable=False),
            sa.Column("finished_trials", sa.Integer, nullable=False),
            sa.Column("outcome", sa.String(300), nullable=False),
            _created(),
            sa.UniqueConstraint("search_id", "round", "method"),
        )
        op.create_index("ix_ps_proposal_rounds_search_id", "ps_proposal_rounds", ["search_id"])
    if "ps_bootstrap_demos" not in existing:
        op.create_table(
            "ps_bootstrap_demos",
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("model", sa.String(500), nullable=False),
            sa.Column("source_key", sa.String(64), nullable=False),
            sa.Column("example_id", sa.String(64), nullable=False),
            sa.Column("search_id", sa.Integer, sa.ForeignKey("ps_searches.id", ondelete="SET NULL"),
                      nullable=True),
            sa.Column("strategy", sa.String(200), nullable=False),
            sa.Column("prompt_hash", sa.String(64), nullable=False),
            sa.Column("prompt", sa.Text, nullable=False),
            sa.Column("rationale", sa.Text, nullable=False),
            sa.Column("prediction", sa.Text, nullable=False),
            sa.Column("correct", sa.Boolean, nullable=False),
            _created(),
            sa.UniqueConstraint("model", "source_key", "example_id"),
        )
        op.create_index("ix_ps_bootstrap_demos_source_key", "ps_bootstrap_demos", ["source_key"])
    _set_meta_version("3")


def downgrade() -> None:
    for table in reversed(TABLES):
        op.drop_table(table)
    _set_meta_version("2")


def _set_meta_version(value: str) -> None:
    meta = sa.table("ps_meta", sa.column("key", sa.String), sa.column("value", sa.Text))
    op.execute(meta.update().where(meta.c.key == "schema_version").values(value=value))
