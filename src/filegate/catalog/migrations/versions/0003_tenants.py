"""tenants: api_keys, teams, audit_events, rate_windows

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

Id = sa.String(64).with_variant(sa.String(64, collation="C"), "postgresql")


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", Id, primary_key=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("preview", sa.String(32), nullable=False),
        sa.Column("key_alias", sa.String(255), nullable=True, unique=True),
        sa.Column("user_id", sa.String(255), nullable=True),
        sa.Column("team_id", sa.String(255), nullable=True),
        sa.Column("team_access", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=True),
        sa.Column("metadata", sa.Text, nullable=False),
        sa.Column("limits", sa.Text, nullable=False),
    )
    op.create_index("ix_api_keys_team", "api_keys", ["team_id"])
    op.create_table(
        "teams",
        sa.Column("team_id", sa.String(255), primary_key=True),
        sa.Column("team_alias", sa.String(255), nullable=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("metadata", sa.Text, nullable=False),
        sa.Column("limits", sa.Text, nullable=False),
    )
    op.create_table(
        "audit_events",
        sa.Column("id", Id, primary_key=True),
        sa.Column("ts", sa.BigInteger, nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("subject", sa.String(512), nullable=True),
        sa.Column("bytes", sa.BigInteger, nullable=True),
        sa.Column("detail", sa.Text, nullable=False),
    )
    op.create_index("ix_audit_actor", "audit_events", ["actor", "id"])
    op.create_table(
        "rate_windows",
        sa.Column("subject", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("window", sa.BigInteger, nullable=False),
        sa.Column("count", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("subject", "kind", "window"),
    )
    op.create_index("ix_files_team_id", "files", ["team", "id"])


def downgrade() -> None:
    op.drop_index("ix_files_team_id", "files")
    for table in ("rate_windows", "audit_events", "teams", "api_keys"):
        op.drop_table(table)
