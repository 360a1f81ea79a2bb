"""One exception tree for filegate; every class knows its HTTP status.

    FilegateError                 500 server_error
    ├── InvalidRequest            400 invalid_request_error
    │   └── RangeNotSatisfiable   416
    ├── AuthError                 401
    ├── PermissionDenied          403
    │   └── QuotaExceeded         403
    ├── FileNotFound              404
    ├── MethodNotAllowed          405
    ├── Conflict                  409
    ├── PayloadTooLarge           413
    ├── RateLimited               429
    ├── UpstreamError             502
    │   └── UpstreamUnreachable   502
    ├── StorageUnavailable        503
    └── UpstreamTimeout           504

Each layer raises the most specific class where a native error arises; the
server renders any of them as OpenAI's envelope
``{"error": {"message", "type", "param", "code"}}``.
"""

from __future__ import annotations


class FilegateError(Exception):
    status_code: int = 500
    error_type: str = "server_error"
    default_code: str | None = None
    # The HTTP status an upstream service answered, when this error stands for one.
    upstream_status: int | None = None

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code if code is not None else self.default_code
        self.headers = headers or {}

    def to_dict(self) -> dict[str, object]:
        return {
            "error": {
                "message": self.message,
                "type": self.error_type,
                "param": self.param,
                "code": self.code,
            }
        }


class InvalidRequest(FilegateError):
    status_code = 400
    error_type = "invalid_request_error"


class RangeNotSatisfiable(InvalidRequest):
    status_code = 416
    default_code = "range_not_satisfiable"


class AuthError(FilegateError):
    status_code = 401
    error_type = "authentication_error"
    default_code = "invalid_api_key"


class PermissionDenied(FilegateError):
    status_code = 403
    error_type = "permission_error"


class QuotaExceeded(PermissionDenied):
    """A storage cap (files or bytes) would be passed; retrying will not help."""

    default_code = "quota_exceeded"


class FileNotFound(FilegateError):
    status_code = 404
    error_type = "invalid_request_error"


class MethodNotAllowed(FilegateError):
    status_code = 405
    error_type = "invalid_request_error"
    default_code = "method_not_allowed"


class Conflict(FilegateError):
    status_code = 409
    error_type = "invalid_request_error"
    default_code = "conflict"


class PayloadTooLarge(FilegateError):
    status_code = 413
    error_type = "invalid_request_error"
    default_code = "file_too_large"


class RateLimited(FilegateError):
    status_code = 429
    error_type = "rate_limit_error"
    default_code = "rate_limit_exceeded"


class UpstreamError(FilegateError):
    status_code = 502
    error_type = "upstream_error"


class UpstreamUnreachable(UpstreamError):
    """No connection to the upstream could be made.

    ``url`` is the request's address. It stays out of the message, which a gateway
    shows its tenants; the SDK, whose caller chose the address, names it.
    """

    default_code = "upstream_unreachable"

    def __init__(self, message: str, *, url: str) -> None:
        super().__init__(message)
        self.url = url

    def naming_url(self) -> UpstreamUnreachable:
        return UpstreamUnreachable(f"{self.message.rstrip('.')}; tried {self.url}.", url=self.url)


class StorageUnavailable(FilegateError):
    status_code = 503
    error_type = "server_error"
    default_code = "storage_unavailable"


class UpstreamTimeout(FilegateError):
    status_code = 504
    error_type = "timeout_error"
    default_code = "upstream_timeout"


class ConfigError(Exception):
    """A setting is missing or wrong; start-up stops with this message."""


class StartupError(Exception):
    """The server cannot start (its port is taken, its catalog is unreachable)."""
