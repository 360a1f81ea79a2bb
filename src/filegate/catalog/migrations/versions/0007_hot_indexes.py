"""files: indexes for listing by purpose, per key, per team and for the master key

A listing filtered by ``purpose`` walked the caller's files newest first and
dropped the other purposes one row at a time: a tenant with 100,000 files and
few of that purpose read all 100,000 for one page. With ``(owner, purpose, id)``,
``(team, purpose, id)`` and ``(purpose, id)`` such a page is a range of one
index, read in id order like an unfiltered page.

``(state, expires_at)`` goes: with ``state = 'ready'`` in every listing it drew
the master key's listings (no tenant to narrow by) to read every READY row and
sort them for each page. The sweep finds its files by two partial indexes
instead, on ``expires_at`` and ``lease_until`` where they are set.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_INDEXES = {
    "ix_files_owner_purpose_id": ["owner", "purpose", "id"],
    "ix_files_team_purpose_id": ["team", "purpose", "id"],
    "ix_files_purpose_id": ["purpose", "id"],
}


_PARTIAL = {"ix_files_expiring": "expires_at", "ix_files_leased": "lease_until"}


def upgrade() -> None:
    for name, columns in _INDEXES.items():
        op.create_index(name, "files", columns)
    for name, column in _PARTIAL.items():
        where = sa.column(column).is_not(None)
        op.create_index(name, "files", [column], sqlite_where=where, postgresql_where=where)
    op.drop_index("ix_files_state_expires", table_name="files")


def downgrade() -> None:
    op.create_index("ix_files_state_expires", "files", ["state", "expires_at"])
    for name in [*_INDEXES, *_PARTIAL]:
        op.drop_index(name, table_name="files")
