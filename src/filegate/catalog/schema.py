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
    sa.Index("ix_files_team_id", "team", "id"),
    # A page filtered by purpose, for a key, a team, or the master key.
    sa.Index("ix_files_owner_purpose_id", "owner", "purpose", "id"),
    sa.Index("ix_files_team_purpose_id", "team", "purpose", "id"),
    sa.Index("ix_files_purpose_id", "purpose", "id"),
    # The gauges' totals (count and sum of bytes of READY files) walk this index, not
    # the table: a third of the pages. Led by ``bytes``, so no listing ever seeks it.
    sa.Index("ix_files_bytes_state", "bytes", "state"),
)

# What a sweep looks for: files that expire, and writes or deletes on a lease.
# Partial, and not led by ``state``: an index on ``state`` drew every listing
# without a tenant (the master key's) to read all READY rows and sort them.
_NOT_NULL = {
    "expires_at": files.c.expires_at.is_not(None),
    "lease": files.c.lease_until.is_not(None),
}
sa.Index(
    "ix_files_expiring",
    files.c.expires_at,
    sqlite_where=_NOT_NULL["expires_at"],
    postgresql_where=_NOT_NULL["expires_at"],
)
sa.Index(
    "ix_files_leased",
    files.c.lease_until,
    sqlite_where=_NOT_NULL["lease"],
    postgresql_where=_NOT_NULL["lease"],
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

api_keys = sa.Table(
    "api_keys",
    metadata,
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
    sa.Index("ix_api_keys_team", "team_id"),
)

teams = sa.Table(
    "teams",
    metadata,
    sa.Column("team_id", sa.String(255), primary_key=True),
    # What the team's files and uploads carry: made with the team, never re-used,
    # so a team made again under an old name owns nothing of the old one's.
    sa.Column("uid", sa.String(64), nullable=False, unique=True),
    sa.Column("team_alias", sa.String(255), nullable=True),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("metadata", sa.Text, nullable=False),
    sa.Column("limits", sa.Text, nullable=False),
)

audit_events = sa.Table(
    "audit_events",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("ts", sa.BigInteger, nullable=False),
    sa.Column("actor", sa.String(64), nullable=False),
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("subject", sa.String(512), nullable=True),
    sa.Column("bytes", sa.BigInteger, nullable=True),
    sa.Column("detail", sa.Text, nullable=False),
    sa.Index("ix_audit_actor", "actor", "id"),
)

# Fixed one-minute windows; a row per subject, kind and minute.
rate_windows = sa.Table(
    "rate_windows",
    metadata,
    sa.Column("subject", sa.String(255), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("window", sa.BigInteger, nullable=False),
    sa.Column("count", sa.BigInteger, nullable=False),
    sa.PrimaryKeyConstraint("subject", "kind", "window"),
)

uploads = sa.Table(
    "uploads",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("owner", sa.String(64), nullable=True),
    sa.Column("team", sa.String(255), nullable=True),
    sa.Column("filename", sa.Text, nullable=False),
    sa.Column("purpose", sa.String(32), nullable=False),
    sa.Column("bytes", sa.BigInteger, nullable=False),
    sa.Column("mime_type", sa.String(255), nullable=False),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("expires_at", sa.BigInteger, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("file_expires_after", sa.BigInteger, nullable=True),
    sa.Column("targets", sa.Text, nullable=False),
    sa.Column("file_id", Id, nullable=True),
    sa.Column("provider_upload_id", sa.String(512), nullable=True),
    sa.Index("ix_uploads_status_expires", "status", "expires_at"),
)

upload_parts = sa.Table(
    "upload_parts",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("upload_id", Id, sa.ForeignKey("uploads.id", ondelete="CASCADE"), nullable=False),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("bytes", sa.BigInteger, nullable=False),
    sa.Column("provider_part_id", sa.String(512), nullable=True),
    sa.Index("ix_upload_parts_upload", "upload_id"),
)

# A batch made through filegate. ``state`` is 'creating' while the provider is being
# asked (invisible; counted against max_batches_in_progress until its lease ends) and
# 'ready' once the provider's batch exists. ``snapshot`` is the provider's last answer
# (JSON, provider ids inside), ``fetched_at`` when it was asked (milliseconds).
batches = sa.Table(
    "batches",
    metadata,
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
    sa.Index("ix_batches_owner_id", "owner", "id"),
    sa.Index("ix_batches_team_id", "team", "id"),
    sa.Index("ix_batches_active", "terminal", "owner"),
)


# A batch filegate runs itself (an openai_compatible deployment): which process holds it
# now (a lease, renewed while it runs), and each line as it finishes, committed before
# the next request may take its place, so a restart sends again only what was in flight.
batch_runs = sa.Table(
    "batch_runs",
    metadata,
    sa.Column("batch_id", Id, primary_key=True),
    sa.Column("deployment", sa.String(128), nullable=False),
    sa.Column("holder", sa.String(64), nullable=True),
    sa.Column("lease_until", sa.BigInteger, nullable=False),
    sa.Column("done", sa.Boolean, nullable=False),
    sa.Index("ix_batch_runs_deployment", "deployment", "done"),
)
batch_run_lines = sa.Table(
    "batch_run_lines",
    metadata,
    sa.Column("batch_id", Id, primary_key=True),
    sa.Column("line_no", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("failed", sa.Boolean, nullable=False),
    # The output (or error) file's line, as it will be written.
    sa.Column("result", sa.Text, nullable=False),
)

# Fine-tuning jobs made through filegate (issue 15), kept like batches: 'creating'
# while the provider is asked, 'ready' once the provider's job exists. ``snapshot`` is
# the provider's last answer (JSON, provider ids inside); ``result_files`` the filegate
# ids its result files became (JSON list; null until they are made, once).
fine_tuning_jobs = sa.Table(
    "fine_tuning_jobs",
    metadata,
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
    sa.Index("ix_fine_tuning_jobs_owner_id", "owner", "id"),
    sa.Index("ix_fine_tuning_jobs_team_id", "team", "id"),
)

# A job's metadata pairs, one row each, for the list's metadata[k]=v filter.
fine_tuning_metadata = sa.Table(
    "fine_tuning_metadata",
    metadata,
    sa.Column(
        "job_id",
        Id,
        sa.ForeignKey("fine_tuning_jobs.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.String(512), nullable=False),
    sa.Index("ix_fine_tuning_metadata_pair", "key", "value"),
)
