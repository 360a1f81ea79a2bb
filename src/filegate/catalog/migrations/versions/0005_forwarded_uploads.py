"""uploads forwarded to a provider's Uploads API: its upload and part ids

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("uploads") as batch:
        batch.add_column(sa.Column("provider_upload_id", sa.String(512), nullable=True))
    with op.batch_alter_table("upload_parts") as batch:
        batch.add_column(sa.Column("provider_part_id", sa.String(512), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("upload_parts") as batch:
        batch.drop_column("provider_part_id")
    with op.batch_alter_table("uploads") as batch:
        batch.drop_column("provider_upload_id")
