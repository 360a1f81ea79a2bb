"""Azure OpenAI's fine-tuning jobs: the dated ``/openai/fine_tuning/jobs`` and v1's.

The v1 surface speaks OpenAI's words. The dated API names its states FineTuningState
(``created``, ``pending``, ``running``, ``succeeded``, ``cancelled``, ``failed``, and
``paused`` from the 2025 previews), writes -1 for a hyperparameter not resolved yet,
calls the suffix ``suffix``, leaves out what it does not know, has no metadata, and
pauses and resumes jobs only from 2025-04-01-preview on.
"""

from __future__ import annotations

from typing import Any

from filegate.providers.base import ProviderJob
from filegate.providers.openai.fine_tuning import OpenAIFineTuning, job_from_openai

PAUSE_SINCE = "2025-04-01"
DATED_STATUSES = {
    "created": "validating_files",
    "pending": "queued",
    "notrunning": "queued",
    "canceled": "cancelled",
}


class AzureOpenAIFineTuning(OpenAIFineTuning):
    def _dated_version(self) -> str | None:
        """The dated api-version, or None on the v1 surface."""
        version = self.wire.params.get("api-version")
        return None if version in (None, "preview") else version

    @property
    def supports_pause(self) -> bool:
        version = self._dated_version()
        return version is None or version[:10] >= PAUSE_SINCE

    def _create_body(self, body: dict[str, Any]) -> dict[str, Any]:
        if self._dated_version() is None:
            return body
        # The dated API keeps no metadata (filegate does).
        return {k: v for k, v in body.items() if k != "metadata"}

    def _job(self, doc: dict[str, Any]) -> ProviderJob:
        job = job_from_openai(doc, self.name, DATED_STATUSES)
        if job.hyperparameters is not None:
            job.hyperparameters = {
                k: ("auto" if v == -1 else v) for k, v in job.hyperparameters.items()
            }
        return job
