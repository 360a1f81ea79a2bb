"""files table

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

Id = sa.String(64).with_variant(sa.String(64, collation="C"), "postgresql")


def upgrade() -> None:
    op.create_table(
        "files",
        sa.Column("id", Id, primary_key=True),
        sa.Column("owner", sa.String(64), nullable=True),
        sa.Column("team", sa.String(64), nullable=True),
        sa.Column("filename", sa.Text, nullable=False),
        sa.Column("purpose", sa.String(32), nullable=False),
        sa.Column("bytes", sa.BigInteger, nullable=False),
        sa.Column("content_type", sa.String(255), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("status_details", sa.Text, nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("lease_until", sa.BigInteger, nullable=True),
        sa.Column("blob_key", sa.String(255), nullable=True),
    )
    op.create_index("ix_files_owner_id", "files", ["owner", "id"])
    op.create_index("ix_files_state_expires", "files", ["state", "expires_at"])


def downgrade() -> None:
    op.drop_table("files")
