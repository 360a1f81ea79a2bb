"""batch_runs: batches filegate runs itself on an OpenAI-compatible server (issue 16)

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

Id = sa.String(64).with_variant(sa.String(64, collation="C"), "postgresql")


def upgrade() -> None:
    op.create_table(
        "batch_runs",
        sa.Column("batch_id", Id, primary_key=True),
        sa.Column("deployment", sa.String(128), nullable=False),
        sa.Column("holder", sa.String(64), nullable=True),
        sa.Column("lease_until", sa.BigInteger, nullable=False),
        sa.Column("done", sa.Boolean, nullable=False),
    )
    op.create_index("ix_batch_runs_deployment", "batch_runs", ["deployment", "done"])
    op.create_table(
        "batch_run_lines",
        sa.Column("batch_id", Id, primary_key=True),
        sa.Column("line_no", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("failed", sa.Boolean, nullable=False),
        sa.Column("result", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("batch_run_lines")
    op.drop_table("batch_runs")
