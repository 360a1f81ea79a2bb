"""teams: an id of their own that is never re-used; team files and uploads carry it

A team's files and uploads were kept under the team's name, so a team deleted and
made again under the same name saw the files of the one before. Each team now
has a ``uid`` (``team-`` and a ULID) made with it and never given again, and
``files.team`` and ``uploads.team`` hold that. A file whose team is already gone
keeps no team at all (its key, and the master key, still see it).

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op
from ulid import ULID

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

teams = sa.table("teams", sa.column("team_id", sa.String), sa.column("uid", sa.String))


def _relabel(old: sa.ColumnElement[str], new: sa.ColumnElement[str]) -> None:
    """Set files.team and uploads.team from ``old`` to ``new`` (NULL where none matches)."""
    conn = op.get_bind()
    for name in ("files", "uploads"):
        table = sa.table(name, sa.column("team", sa.String))
        match = sa.select(new).where(old == table.c.team).scalar_subquery()
        conn.execute(table.update().where(table.c.team.is_not(None)).values(team=match))


def upgrade() -> None:
    with op.batch_alter_table("teams") as batch:
        batch.add_column(sa.Column("uid", sa.String(64), nullable=True))
    conn = op.get_bind()
    for (team_id,) in conn.execute(sa.select(teams.c.team_id)).all():
        uid = f"team-{ULID()}"
        conn.execute(teams.update().where(teams.c.team_id == team_id).values(uid=uid))
    _relabel(teams.c.team_id, teams.c.uid)
    with op.batch_alter_table("teams") as batch:
        batch.alter_column("uid", existing_type=sa.String(64), nullable=False)
        batch.create_unique_constraint("uq_teams_uid", ["uid"])


def downgrade() -> None:
    _relabel(teams.c.uid, teams.c.team_id)
    with op.batch_alter_table("teams") as batch:
        batch.drop_constraint("uq_teams_uid", type_="unique")
        batch.drop_column("uid")
