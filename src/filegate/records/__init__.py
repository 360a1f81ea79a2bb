"""The plain data types every layer passes around, one module per resource."""

from filegate.records.batches import BatchPage, BatchQuery, BatchRecord, BatchState
from filegate.records.files import (
    EMBEDDED,
    EXPIRES_MAX,
    EXPIRES_MIN,
    FILE_PURPOSES,
    PURPOSES,
    ByteRange,
    ExpiresAfter,
    FilePage,
    FileRecord,
    FileState,
    FileTotals,
    ListQuery,
    Location,
    Stored,
)
from filegate.records.fine_tuning import (
    FineTuningPage,
    FineTuningQuery,
    FineTuningRecord,
    FineTuningState,
)
from filegate.records.tenants import (
    LIMIT_FIELDS,
    ApiKey,
    AuditEvent,
    Limits,
    Quota,
    Scope,
    Team,
)
from filegate.records.uploads import Upload, UploadPart

__all__ = [
    "EMBEDDED",
    "EXPIRES_MAX",
    "EXPIRES_MIN",
    "FILE_PURPOSES",
    "LIMIT_FIELDS",
    "PURPOSES",
    "ApiKey",
    "AuditEvent",
    "BatchPage",
    "BatchQuery",
    "BatchRecord",
    "BatchState",
    "ByteRange",
    "ExpiresAfter",
    "FilePage",
    "FileRecord",
    "FileState",
    "FileTotals",
    "FineTuningPage",
    "FineTuningQuery",
    "FineTuningRecord",
    "FineTuningState",
    "Limits",
    "ListQuery",
    "Location",
    "Quota",
    "Scope",
    "Stored",
    "Team",
    "Upload",
    "UploadPart",
]
