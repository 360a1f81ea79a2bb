"""What a fine-tuning answer keeps of the provider's events and checkpoints: OpenAI's
fields only, a field the provider left null left out, so every answer is what the
OpenAPI document's models say."""

from __future__ import annotations

from typing import Any

import pydantic
import pytest

from filegate.records.fine_tuning import CHECKPOINT_FIELDS, EVENT_FIELDS, openai_item
from filegate.server.models.fine_tuning import FineTuningJobCheckpoint, FineTuningJobEvent

EVENT: dict[str, Any] = {
    "object": "fine_tuning.job.event",
    "id": "ftevent-1",
    "created_at": 1,
    "level": "info",
    "message": "Step 1/10: training loss=1.2",
}


def test_an_event_keeps_openais_fields_and_drops_the_rest() -> None:
    sent = {**EVENT, "type": None, "data": None, "internal_run": "run-7", "step_ms": 12}
    with pytest.raises(pydantic.ValidationError):
        FineTuningJobEvent.model_validate(sent)  # as the provider wrote it
    kept = openai_item(sent, EVENT_FIELDS)
    assert kept == EVENT
    FineTuningJobEvent.model_validate(kept)
    full = {**EVENT, "type": "metrics", "data": {"step": 1}}
    assert openai_item(full, EVENT_FIELDS) == full
    # OpenAI's order, whatever the provider's.
    assert list(openai_item(dict(reversed(full.items())), EVENT_FIELDS)) == list(EVENT_FIELDS)


def test_a_checkpoint_keeps_openais_fields_only() -> None:
    checkpoint = {
        "object": "fine_tuning.job.checkpoint",
        "id": "ftckpt-1",
        "created_at": 1,
        "fine_tuned_model_checkpoint": "ft:gpt-4o-mini:org::abc:ckpt-step-1",
        "fine_tuning_job_id": "ftjob-01ARZ3NDEKTSV4RRFFQ69G5FAV",
        "metrics": {"step": 1.0},
        "step_number": 1,
    }
    kept = openai_item({**checkpoint, "provider_job": "ftjob-theirs"}, CHECKPOINT_FIELDS)
    assert kept == checkpoint
    FineTuningJobCheckpoint.model_validate(kept)
    # A required field the provider did not give stays missing: the model refuses the
    # answer rather than filegate inventing a value.
    with pytest.raises(pydantic.ValidationError):
        FineTuningJobCheckpoint.model_validate(
            openai_item({**checkpoint, "step_number": None}, CHECKPOINT_FIELDS)
        )
