"""Where a request's file lives: LiteLLM's routing options, checked in one place.

Until provider deployments exist, the only target is filegate's own storage;
every other choice is refused with a clear 400 instead of being ignored.
"""

from __future__ import annotations

from collections.abc import Mapping

from filegate.errors import InvalidRequest

EMBEDDED = "filegate"
ROUTING_FIELDS = ("custom_llm_provider", "model", "target_model_names", "target_storage")
_EMBEDDED_STORAGE = ("default", EMBEDDED)


def is_routing_field(name: str) -> bool:
    """Fields LiteLLM clients send beside the OpenAI ones (accepted, then checked)."""
    return (
        name in ROUTING_FIELDS or name == "litellm_metadata" or name.startswith("litellm_metadata[")
    )


def resolve_target(options: Mapping[str, str]) -> str:
    provider = options.get("custom_llm_provider")
    if provider and provider != EMBEDDED:
        raise InvalidRequest(
            f"Provider {provider[:64]!r} is not configured on this gateway; "
            f"the only target is {EMBEDDED!r} (filegate's own storage).",
            param="custom_llm_provider",
            code="unsupported_provider",
        )
    for name in ("model", "target_model_names"):
        value = options.get(name)
        if value:
            raise InvalidRequest(
                f"No deployment named {value[:64]!r} is configured on this gateway.",
                param=name,
                code="unknown_deployment",
            )
    storage = options.get("target_storage")
    if storage and storage not in _EMBEDDED_STORAGE:
        raise InvalidRequest(
            f"Storage {storage[:64]!r} is not configured on this gateway.",
            param="target_storage",
            code="unknown_storage",
        )
    return EMBEDDED
