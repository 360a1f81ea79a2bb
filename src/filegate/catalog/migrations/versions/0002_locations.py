"""file_locations: copies of a file at provider deployments

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

Id = sa.String(64).with_variant(sa.String(64, collation="C"), "postgresql")


def upgrade() -> None:
    op.create_table(
        "file_locations",
        sa.Column("file_id", Id, sa.ForeignKey("files.id", ondelete="CASCADE"), nullable=False),
        sa.Column("deployment", sa.String(128), nullable=False),
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("provider_file_id", sa.String(512), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("status_details", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("file_id", "deployment"),
    )
    op.create_index("ix_file_locations_provider", "file_locations", ["provider", "file_id"])


def downgrade() -> None:
    op.drop_table("file_locations")
