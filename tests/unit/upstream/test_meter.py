"""upstream/meter.py: each upstream path filegate sends to is one operation of a fixed
set, whatever ids it carries, so a label never holds an id."""

from __future__ import annotations

import pytest

from filegate.upstream.meter import OPERATIONS, Meter, operation

VERTEX = "/v1/projects/p/locations/us-central1"
CASES = [
    ("POST", "/v1/files", "", "files.create"),
    ("GET", "/v1/files", "limit=100", "files.list"),
    ("GET", "/v1/files/file-abc", "", "files.retrieve"),
    ("DELETE", "/openai/files/assistant-xyz", "api-version=2024", "files.delete"),
    ("GET", "/openai/v1/files/file-abc/content", "", "files.content"),
    # An id that looks like a verb is still an id.
    ("GET", "/v1/files/content", "", "files.retrieve"),
    ("POST", "/v1/uploads", "", "uploads.create"),
    ("POST", "/v1/uploads/upload_1/parts", "", "uploads.add_part"),
    ("POST", "/v1/uploads/upload_1/complete", "", "uploads.complete"),
    ("POST", "/v1/uploads/upload_1/cancel", "", "uploads.cancel"),
    ("POST", "/v1/batches", "", "batches.create"),
    ("GET", "/v1/batches/batch_1", "", "batches.retrieve"),
    ("POST", "/v1/batches/batch_1/cancel", "", "batches.cancel"),
    ("POST", "/v1/fine_tuning/jobs", "", "fine_tuning.create"),
    ("GET", "/v1/fine_tuning/jobs/ftjob-1/events", "", "fine_tuning.events"),
    ("POST", "/v1/fine_tuning/jobs/ftjob-1/pause", "", "fine_tuning.pause"),
    ("POST", f"{VERTEX}/batchPredictionJobs", "", "vertex_batches.create"),
    ("GET", f"{VERTEX}/batchPredictionJobs/123", "", "vertex_batches.retrieve"),
    ("POST", f"{VERTEX}/batchPredictionJobs/123:cancel", "", "vertex_batches.cancel"),
    ("POST", f"{VERTEX}/tuningJobs/9:cancel", "", "vertex_tuning.cancel"),
    ("POST", "/upload/storage/v1/b/bkt/o", "uploadType=resumable", "objects.upload"),
    ("PUT", "/upload/storage/v1/b/bkt/o", "upload_id=x", "objects.upload"),
    ("GET", "/storage/v1/b/bkt/o/files%2Ffile-1", "alt=media", "objects.read"),
    ("GET", "/storage/v1/b/bkt/o/files%2Ffile-1", "", "objects.retrieve"),
    ("DELETE", "/storage/v1/b/bkt/o/files%2Ffile-1", "", "objects.delete"),
    ("GET", "/storage/v1/b/bkt/o", "prefix=x", "objects.list"),
    ("POST", "/v1/chat/completions", "", "model.request"),
    ("GET", "/something/else", "", "other"),
]


@pytest.mark.parametrize(("method", "path", "query", "expected"), CASES)
def test_operation(method: str, path: str, query: str, expected: str) -> None:
    assert operation(method, path, query) == expected
    assert expected in OPERATIONS


def test_a_meter_without_a_sink_reports_nothing() -> None:
    meter = Meter()
    seen: list[tuple[object, ...]] = []

    class Sink:
        def upstream(
            self, target: str, operation: str, status: str, seconds: float, *, retry: bool
        ) -> None:
            seen.append((target, operation, status, retry))

        def moved(self, direction: str, target: str, size: int) -> None:
            seen.append((direction, target, size))

    bound = meter.bound("openai")
    bound.upstream("files.create", "200", 0.1, retry=False)
    meter.sink = Sink()
    bound.upstream("files.create", "500", 0.1, retry=True)
    bound.moved("out", 0)
    bound.moved("out", 5)
    assert seen == [("openai", "files.create", "500", True), ("out", "openai", 5)]
