"""The error envelope every failing request is answered with (OpenAI's)."""

from __future__ import annotations

from pydantic import ConfigDict

from filegate.server.models.base import Answer


class ErrorDetail(Answer):
    model_config = ConfigDict(title="Error")

    message: str
    """What went wrong, for people."""
    type: str
    """The error class, e.g. `invalid_request_error`, `authentication_error`, `server_error`."""
    param: str | None
    """The request field the error is about, if any."""
    code: str | None
    """A machine-readable code, e.g. `invalid_value`, `missing_required_parameter`,
    `unknown_parameter`."""


class ErrorResponse(Answer):
    error: ErrorDetail
