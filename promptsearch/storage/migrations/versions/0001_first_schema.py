"""The first schema (promptsearch 0.1): searches, candidates, cached evaluations, meta.

Databases made before migrations existed have exactly these tables and no version table;
`promptsearch db upgrade` stamps them with this revision before upgrading.

Revision ID: 0001
Revises:
"""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ps_searches",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("study_name", sa.String(300), nullable=False),
        sa.Column("task", sa.JSON, nullable=False),
        sa.Column("space", sa.JSON, nullable=False),
        sa.Column("model", sa.String(500), nullable=False),
        sa.Column("settings", sa.JSON, nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "ps_candidates",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("search_id", sa.Integer, sa.ForeignKey("ps_searches.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("prompt_hash", sa.String(64), nullable=False),
        sa.Column("prompt", sa.Text, nullable=False),
        sa.Column("answer_prefix", sa.String(16), nullable=False),
        sa.Column("instruction", sa.Text, nullable=False),
        sa.Column("demos", sa.JSON, nullable=False),
        sa.Column("cot_trigger", sa.Text, nullable=True),
        sa.Column("template", sa.String(32), nullable=False),
        sa.Column("params", sa.JSON, nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("search_id", "prompt_hash"),
    )
    op.create_index("ix_ps_candidates_search_id", "ps_candidates", ["search_id"])
    op.create_table(
        "ps_evaluations",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("model", sa.String(500), nullable=False),
        sa.Column("prompt_hash", sa.String(64), nullable=False),
        sa.Column("decoding", sa.String(200), nullable=False),
        sa.Column("example_id", sa.String(64), nullable=False),
        sa.Column("prediction", sa.Text, nullable=False),
        sa.Column("correct", sa.Boolean, nullable=False),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("model", "prompt_hash", "decoding", "example_id"),
    )
    meta = op.create_table(
        "ps_meta",
        sa.Column("key", sa.String(100), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    op.bulk_insert(meta, [{"key": "schema_version", "value": "1"}])


def downgrade() -> None:
    for table in ("ps_meta", "ps_evaluations", "ps_candidates", "ps_searches"):
        op.drop_table(table)
