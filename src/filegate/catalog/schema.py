"""Catalog tables (SQLAlchemy Core). Changes here need an Alembic revision."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

# Ids are compared as byte strings so keyset pagination follows ULID order;
# PostgreSQL's default collation would otherwise sort them by locale rules.
Id = sa.String(64).with_variant(sa.String(64, collation="C"), "postgresql")

files = sa.Table(
    "files",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("owner", sa.String(64), nullable=True),
    sa.Column("team", sa.String(64), nullable=True),
    sa.Column("filename", sa.Text, nullable=False),
    sa.Column("purpose", sa.String(32), nullable=False),
    sa.Column("bytes", sa.BigInteger, nullable=False, default=0),
    sa.Column("content_type", sa.String(255), nullable=False),
    sa.Column("sha256", sa.String(64), nullable=True),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("expires_at", sa.BigInteger, nullable=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("status_details", sa.Text, nullable=True),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("lease_until", sa.BigInteger, nullable=True),
    sa.Column("blob_key", sa.String(255), nullable=True),
    sa.Index("ix_files_owner_id", "owner", "id"),
    sa.Index("ix_files_state_expires", "state", "expires_at"),
)

file_locations = sa.Table(
    "file_locations",
    metadata,
    sa.Column("file_id", Id, sa.ForeignKey("files.id", ondelete="CASCADE"), nullable=False),
    sa.Column("deployment", sa.String(128), nullable=False),
    sa.Column("provider", sa.String(32), nullable=False),
    sa.Column("provider_file_id", sa.String(512), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("status_details", sa.Text, nullable=True),
    sa.PrimaryKeyConstraint("file_id", "deployment"),
    sa.Index("ix_file_locations_provider", "provider", "file_id"),
)
