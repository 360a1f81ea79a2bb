"""fine_tuning: filegate's fine-tuning jobs beside the provider's (issue 15)

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

Id = sa.String(64).with_variant(sa.String(64, collation="C"), "postgresql")


def upgrade() -> None:
    op.create_table(
        "fine_tuning_jobs",
        sa.Column("id", Id, primary_key=True),
        sa.Column("owner", sa.String(64), nullable=True),
        sa.Column("team", sa.String(64), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("lease_until", sa.BigInteger, nullable=True),
        sa.Column("deployment", sa.String(128), nullable=False),
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("provider_job_id", sa.String(512), nullable=True),
        sa.Column("training_file", Id, nullable=False),
        sa.Column("validation_file", Id, nullable=True),
        sa.Column("model", sa.String(256), nullable=False),
        sa.Column("metadata", sa.Text, nullable=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("terminal", sa.Boolean, nullable=False),
        sa.Column("snapshot", sa.Text, nullable=False),
        sa.Column("fetched_at", sa.BigInteger, nullable=False),
        sa.Column("result_files", sa.Text, nullable=True),
    )
    op.create_index("ix_fine_tuning_jobs_owner_id", "fine_tuning_jobs", ["owner", "id"])
    op.create_index("ix_fine_tuning_jobs_team_id", "fine_tuning_jobs", ["team", "id"])
    op.create_table(
        "fine_tuning_metadata",
        sa.Column(
            "job_id",
            Id,
            sa.ForeignKey("fine_tuning_jobs.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.String(512), nullable=False),
    )
    op.create_index("ix_fine_tuning_metadata_pair", "fine_tuning_metadata", ["key", "value"])


def downgrade() -> None:
    op.drop_table("fine_tuning_metadata")
    op.drop_table("fine_tuning_jobs")
