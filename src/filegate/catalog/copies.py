"""File records jobs make in the catalog: a provider's copy of a file, a job's output file.

Shared by the job stores (batches, fine-tuning jobs), each of which claims its own
column before a file record is written, so a record is made once.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from filegate.catalog.runner import Runner
from filegate.catalog.schema import file_locations, files
from filegate.records import FileRecord, FileState, Location


def insert_file(conn: sa.Connection, file: FileRecord) -> None:
    """Write a ready file record and its locations (inside the caller's transaction)."""
    conn.execute(files.insert().values(**_file_values(file)))
    for loc in file.locations:
        conn.execute(file_locations.insert().values(**_location_values(file.id, loc)))


async def add_copy(run: Runner, file_id: str, location: Location) -> Location:
    """Record a copy of a file made for a job, unless one at that deployment already is
    (made by a concurrent request); the copy that is recorded is returned."""
    values = _location_values(file_id, location)
    loc = file_locations.c
    existing = sa.select(file_locations).where(
        loc.file_id == file_id, loc.deployment == location.deployment
    )

    def write(conn: sa.Connection) -> Location:
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        conn.execute(dialect.insert(file_locations).values(**values).on_conflict_do_nothing())
        m = conn.execute(existing).one()._mapping
        return Location(
            deployment=m["deployment"],
            provider=m["provider"],
            provider_file_id=m["provider_file_id"],
            status=m["status"],
            status_details=m["status_details"],
        )

    return await run.write(write)


def _file_values(r: FileRecord) -> dict[str, Any]:
    return {
        "id": r.id,
        "owner": r.owner,
        "team": r.team,
        "filename": r.filename,
        "purpose": r.purpose,
        "bytes": r.bytes,
        "content_type": r.content_type,
        "sha256": r.sha256,
        "created_at": r.created_at,
        "expires_at": r.expires_at,
        "status": r.status,
        "status_details": r.status_details,
        "state": FileState.READY.value,
        "lease_until": None,
        "blob_key": r.blob_key,
    }


def _location_values(file_id: str, loc: Location) -> dict[str, Any]:
    return {
        "file_id": file_id,
        "deployment": loc.deployment,
        "provider": loc.provider,
        "provider_file_id": loc.provider_file_id,
        "status": loc.status,
        "status_details": loc.status_details,
    }
