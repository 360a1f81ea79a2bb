"""How the Vertex AI provider names and marks its GCS objects (shared by its modules)."""

from __future__ import annotations

from filegate.errors import FileNotFound

# Our own object metadata keys.
ROLE, ORIGINAL, ORIGINAL_BYTES = "filegate_role", "filegate_original", "filegate_bytes"


def parse_gs_id(file_id: str) -> tuple[str, str]:
    """``gs://bucket/object`` -> (bucket, object); anything else names no file here."""
    bucket, _, name = file_id.removeprefix("gs://").partition("/")
    if not file_id.startswith("gs://") or not bucket or not name:
        raise FileNotFound(f"No such File object: {file_id[:128]}", param="file_id")
    return bucket, name
