"""Uploads and their parts, in the catalog database."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
import sqlalchemy as sa

from filegate.catalog.rows import visible_to
from filegate.catalog.runner import Runner
from filegate.catalog.schema import upload_parts, uploads
from filegate.records import Scope, Upload, UploadPart

_PENDING = sa.select(sa.func.count()).select_from(uploads).where(uploads.c.status == "pending")


def _upload(row: sa.Row[Any]) -> Upload:
    m = row._mapping
    return Upload(
        id=m["id"],
        filename=m["filename"],
        purpose=m["purpose"],
        bytes=m["bytes"],
        mime_type=m["mime_type"],
        created_at=m["created_at"],
        expires_at=m["expires_at"],
        status=m["status"],
        owner=m["owner"],
        team=m["team"],
        file_expires_after=m["file_expires_after"],
        targets=orjson.loads(m["targets"]),
        file_id=m["file_id"],
        provider_upload_id=m["provider_upload_id"],
    )


def _part(row: sa.Row[Any]) -> UploadPart:
    m = row._mapping
    return UploadPart(
        id=m["id"],
        upload_id=m["upload_id"],
        created_at=m["created_at"],
        bytes=m["bytes"],
        provider_part_id=m["provider_part_id"],
    )


class SQLUploadStore:
    def __init__(self, runner: Runner) -> None:
        self._run = runner

    async def add(self, upload: Upload) -> None:
        stmt = uploads.insert().values(
            id=upload.id,
            owner=upload.owner,
            team=upload.team,
            filename=upload.filename,
            purpose=upload.purpose,
            bytes=upload.bytes,
            mime_type=upload.mime_type,
            created_at=upload.created_at,
            expires_at=upload.expires_at,
            status=upload.status,
            file_expires_after=upload.file_expires_after,
            targets=orjson.dumps(upload.targets).decode(),
            file_id=upload.file_id,
            provider_upload_id=upload.provider_upload_id,
        )
        await self._run.write(lambda conn: conn.execute(stmt))

    async def get(self, upload_id: str, scope: Scope) -> Upload | None:
        stmt = sa.select(uploads).where(uploads.c.id == upload_id, visible_to(uploads, scope))
        row = await self._run.read(lambda conn: conn.execute(stmt).first())
        return _upload(row) if row is not None else None

    async def add_part(self, part: UploadPart, now: int, max_total: int) -> bool | str:
        """Attach a stored part, only while its upload still takes parts.

        Returns True, False (the upload is closed) or "full" (its parts would
        pass ``max_total`` bytes).
        """
        open_upload = sa.select(uploads.c.id).where(
            uploads.c.id == part.upload_id,
            uploads.c.status == "pending",
            uploads.c.expires_at > now,
        )
        held = sa.select(sa.func.coalesce(sa.func.sum(upload_parts.c.bytes), 0)).where(
            upload_parts.c.upload_id == part.upload_id
        )

        def run(conn: sa.Connection) -> bool | str:
            if conn.execute(open_upload).first() is None:
                return False
            if conn.execute(held).scalar_one() + part.bytes > max_total:
                return "full"
            conn.execute(
                upload_parts.insert().values(
                    id=part.id,
                    upload_id=part.upload_id,
                    created_at=part.created_at,
                    bytes=part.bytes,
                    provider_part_id=part.provider_part_id,
                )
            )
            return True

        return await self._run.write(run)

    async def parts(self, upload_id: str, ids: Sequence[str] | None = None) -> list[UploadPart]:
        stmt = sa.select(upload_parts).where(upload_parts.c.upload_id == upload_id)
        if ids is not None:
            stmt = stmt.where(upload_parts.c.id.in_(list(ids)))
        rows = await self._run.read(lambda conn: conn.execute(stmt).all())
        return [_part(r) for r in rows]

    async def transition(
        self,
        upload_id: str,
        from_status: str,
        to_status: str,
        *,
        now: int | None = None,
        file_id: str | None = None,
    ) -> bool:
        """Move an upload between states atomically; False if it was not in ``from_status``.

        With ``now``, an upload past its expiry does not move.
        """
        cond = [uploads.c.id == upload_id, uploads.c.status == from_status]
        if now is not None:
            cond.append(uploads.c.expires_at > now)
        values: dict[str, Any] = {"status": to_status}
        if file_id is not None:
            values["file_id"] = file_id
        stmt = uploads.update().where(*cond).values(**values)
        result = await self._run.write(lambda conn: conn.execute(stmt))
        return bool(result.rowcount)

    async def drop_parts(self, upload_id: str, ids: Sequence[str] | None = None) -> None:
        stmt = upload_parts.delete().where(upload_parts.c.upload_id == upload_id)
        if ids is not None:
            stmt = stmt.where(upload_parts.c.id.in_(list(ids)))
        await self._run.write(lambda conn: conn.execute(stmt))

    async def stale(self, now: int, grace: int, limit: int) -> list[Upload]:
        """Uploads whose parts should go: expired, cancelled, or stuck completing."""
        has_parts = sa.exists().where(upload_parts.c.upload_id == uploads.c.id)
        stmt = (
            sa.select(uploads)
            .where(
                sa.or_(
                    sa.and_(uploads.c.status == "pending", uploads.c.expires_at <= now),
                    sa.and_(uploads.c.status == "completing", uploads.c.expires_at + grace <= now),
                    sa.and_(uploads.c.status.in_(["cancelled", "expired", "completed"]), has_parts),
                )
            )
            .limit(limit)
        )
        rows = await self._run.read(lambda conn: conn.execute(stmt).all())
        return [_upload(r) for r in rows]

    async def in_progress(self) -> int:
        # A range of ix_uploads_status_expires: the index alone answers it.
        return int(await self._run.scan(lambda conn: conn.execute(_PENDING).scalar_one()))
