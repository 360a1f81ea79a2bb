"""batches: filegate's batches beside the provider's (issue 14)

A key's ``max_batches_in_progress`` needs no column: limits are stored as JSON.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

Id = sa.String(64).with_variant(sa.String(64, collation="C"), "postgresql")


def upgrade() -> None:
    op.create_table(
        "batches",
        sa.Column("id", Id, primary_key=True),
        sa.Column("owner", sa.String(64), nullable=True),
        sa.Column("team", sa.String(64), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("lease_until", sa.BigInteger, nullable=True),
        sa.Column("deployment", sa.String(128), nullable=False),
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("provider_batch_id", sa.String(512), nullable=True),
        sa.Column("input_file_id", Id, nullable=False),
        sa.Column("endpoint", sa.String(64), nullable=False),
        sa.Column("completion_window", sa.String(16), nullable=False),
        sa.Column("metadata", sa.Text, nullable=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("terminal", sa.Boolean, nullable=False),
        sa.Column("snapshot", sa.Text, nullable=False),
        sa.Column("fetched_at", sa.BigInteger, nullable=False),
        sa.Column("output_file_id", Id, nullable=True),
        sa.Column("error_file_id", Id, nullable=True),
    )
    op.create_index("ix_batches_owner_id", "batches", ["owner", "id"])
    op.create_index("ix_batches_team_id", "batches", ["team", "id"])
    op.create_index("ix_batches_active", "batches", ["terminal", "owner"])


def downgrade() -> None:
    op.drop_table("batches")
