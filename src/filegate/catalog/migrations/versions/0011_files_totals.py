"""files: an index for the gauges' totals (issue 18)

``filegate_stored_files`` and ``filegate_stored_bytes`` are refreshed once per sweep
interval by counting READY files and summing their bytes. ``(bytes, state)`` holds
both columns, so the count walks the index alone: at a million files a third of the
table's pages. It is led by ``bytes`` on purpose: an index led by ``state`` would
draw the master key's listings to it (see 0007).

Revision ID: 0011
Revises: 0010
"""

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_files_bytes_state", "files", ["bytes", "state"])


def downgrade() -> None:
    op.drop_index("ix_files_bytes_state", table_name="files")
