"""Where a request's file lives: LiteLLM's routing options, resolved in one place.

A target is a deployment (a named upstream) or filegate's own store. Clients
choose with ``custom_llm_provider`` (field, query, header or path prefix),
``model`` / ``target_model_names`` (deployment names), or not at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from filegate.config import Deployment
from filegate.errors import InvalidRequest
from filegate.providers import registry
from filegate.records import EMBEDDED

ROUTING_FIELDS = ("custom_llm_provider", "model", "target_model_names", "target_storage")
# Provider names clients may route to (LiteLLM's spelling), configured or not.
KNOWN_PROVIDERS = (*registry.PROVIDERS, EMBEDDED)
_EMBEDDED_STORAGE = ("default", EMBEDDED)


@dataclass(frozen=True, slots=True)
class Target:
    deployment: str
    provider: str

    @property
    def embedded(self) -> bool:
        return self.provider == EMBEDDED


EMBEDDED_TARGET = Target(EMBEDDED, EMBEDDED)


def is_routing_field(name: str) -> bool:
    """Fields LiteLLM clients send beside the OpenAI ones (accepted, then checked)."""
    return (
        name in ROUTING_FIELDS or name == "litellm_metadata" or name.startswith("litellm_metadata[")
    )


class TargetTable:
    def __init__(self, deployments: Iterable[Deployment], default_target: str | None) -> None:
        self.deployments = {d.name: Target(d.name, d.provider) for d in deployments}
        # A provider's own deployment: the one named after it, else its first.
        self.by_provider: dict[str, Target] = {EMBEDDED: EMBEDDED_TARGET}
        for target in self.deployments.values():
            self.by_provider.setdefault(target.provider, target)
        for target in self.deployments.values():
            if target.deployment == target.provider:
                self.by_provider[target.provider] = target
        if default_target:
            self.default = self.deployments.get(default_target) or self.by_provider[default_target]
        else:
            # As LiteLLM does: OpenAI when it is configured, else our own store.
            self.default = self.by_provider.get(registry.DEFAULT_PROVIDER, EMBEDDED_TARGET)

    def named(self, deployment: str) -> Target:
        """A target stored by name (e.g. with an upload) and still configured."""
        if deployment == EMBEDDED:
            return EMBEDDED_TARGET
        target = self.deployments.get(deployment)
        if target is None:
            raise InvalidRequest(
                f"Deployment {deployment!r} is no longer configured.", code="unknown_deployment"
            )
        return target

    def provider(self, name: str, param: str = "custom_llm_provider") -> Target:
        target = self.by_provider.get(name)
        if target is None:
            if name in KNOWN_PROVIDERS:
                message = f"Provider {name!r} is not configured on this gateway."
            else:
                message = (
                    f"Unknown provider {name[:64]!r}; known providers: "
                    f"{', '.join(KNOWN_PROVIDERS)}."
                )
            raise InvalidRequest(message, param=param, code="unsupported_provider")
        return target

    def resolve(self, options: Mapping[str, str], path_provider: str | None = None) -> list[Target]:
        """The targets a request names, or the default; a bad choice is a 400."""
        storage = options.get("target_storage")
        if storage and storage not in _EMBEDDED_STORAGE:
            raise InvalidRequest(
                f"Storage {storage[:64]!r} is not configured on this gateway.",
                param="target_storage",
                code="unknown_storage",
            )
        provider = self._provider_choice(options, path_provider)
        names = options.get("target_model_names") or options.get("model")
        if names:
            param = "target_model_names" if options.get("target_model_names") else "model"
            targets = []
            for name in dict.fromkeys(n.strip() for n in names.split(",") if n.strip()):
                target = self.deployments.get(name)
                if target is None:
                    raise InvalidRequest(
                        f"No deployment named {name[:64]!r} is configured on this gateway.",
                        param=param,
                        code="unknown_deployment",
                    )
                if provider is not None and target.provider != provider:
                    raise InvalidRequest(
                        f"Deployment {name!r} is at {target.provider!r}, not {provider!r}.",
                        param=param,
                        code="provider_mismatch",
                    )
                targets.append(target)
            if targets:
                return targets
        if provider is not None:
            return [self.provider(provider)]
        return [self.default]

    def list_provider(
        self, options: Mapping[str, str], path_provider: str | None = None
    ) -> str | None:
        """For listing: only files at this provider, or None for all of them."""
        provider = self._provider_choice(options, path_provider)
        if provider is not None:
            self.provider(provider)
        return provider

    def _provider_choice(self, options: Mapping[str, str], path_provider: str | None) -> str | None:
        provider = options.get("custom_llm_provider") or None
        if path_provider and provider and provider != path_provider:
            raise InvalidRequest(
                f"custom_llm_provider={provider[:64]!r} contradicts the path's {path_provider!r}.",
                param="custom_llm_provider",
                code="provider_mismatch",
            )
        return path_provider or provider


class Routing:
    """One request's choice of targets, resolved once per distinct choice.

    The query, header and path choose first (``options``, ``path_provider``); a
    create's form fields may add to that choice, and only a field that changes it
    makes it resolve again. Errors are the table's: a bad choice is a 400.
    """

    def __init__(
        self, table: TargetTable, options: Mapping[str, str], path_provider: str | None
    ) -> None:
        self.table = table
        self.options = options
        self.path_provider = path_provider
        self._choice: tuple[str | None, ...] | None = None
        self._targets: tuple[Target, ...] = ()

    def resolve(self, fields: Mapping[str, str] | None = None) -> list[Target]:
        merged = {**self.options, **fields} if fields else self.options
        # What TargetTable.resolve reads, and nothing else.
        choice = tuple(merged.get(name) for name in ROUTING_FIELDS)
        if choice != self._choice:
            self._targets = tuple(self.table.resolve(merged, self.path_provider))
            self._choice = choice
        return list(self._targets)
