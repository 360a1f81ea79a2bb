"""A filegate gateway's admin API from the SDK: virtual keys and teams.

These calls need the master key (``api_key`` / ``FILEGATE_API_KEY``); a virtual key
may only read its own ``akey_info``. The routes are LiteLLM's (``/key/generate``,
``/key/list``, ``/key/info``, ``/key/delete``, ``/team/new``, ``/team/list``,
``/team/info``, ``/team/delete``) at the server's root, so a trailing ``/v1`` of
``api_base`` / ``FILEGATE_API_BASE`` is dropped. Limits are LiteLLM's field names
(``max_file_size``, ``max_stored_bytes``, ``max_files``, ``allowed_purposes``,
``rpm``, ``upload_rpm``, ``max_concurrent_uploads``). Each call has a sync twin.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

import orjson
from pydantic import BaseModel, ConfigDict, ValidationError

from filegate.errors import UpstreamError
from filegate.sdk.connection import Connection
from filegate.sdk.portal import sync_twin

__all__ = [
    "GeneratedKey",
    "KeyInfo",
    "KeyPage",
    "TeamDetail",
    "TeamInfo",
    "adelete_keys",
    "adelete_teams",
    "agenerate_key",
    "akey_info",
    "alist_keys",
    "alist_teams",
    "anew_team",
    "ateam_info",
    "delete_keys",
    "delete_teams",
    "generate_key",
    "key_info",
    "list_keys",
    "list_teams",
    "new_team",
    "team_info",
]

_JSON = {"Content-Type": "application/json"}
M = TypeVar("M", bound=BaseModel)


class KeyInfo(BaseModel):
    """A virtual key as the gateway describes it (never its secret); limits are extra
    fields."""

    model_config = ConfigDict(extra="allow", frozen=True)

    token: str
    key_name: str | None = None
    key_alias: str | None = None
    user_id: str | None = None
    team_id: str | None = None
    team_access: bool = False
    created_at: str | None = None
    expires: str | None = None
    metadata: dict[str, Any] | None = None


class GeneratedKey(KeyInfo):
    """A new key: ``key`` is its secret, shown this once."""

    key: str


class KeyPage(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    keys: list[KeyInfo]
    total_count: int
    current_page: int
    total_pages: int


class TeamInfo(BaseModel):
    """A team; limits are extra fields."""

    model_config = ConfigDict(extra="allow", frozen=True)

    team_id: str
    team_alias: str | None = None
    created_at: str | None = None
    metadata: dict[str, Any] | None = None


class TeamDetail(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    team_id: str
    team_info: TeamInfo
    keys: list[str]


def _model(model: type[M], doc: object) -> M:
    try:
        return model.model_validate(doc)
    except ValidationError:
        raise UpstreamError(
            f"filegate: the server's answer is not a {model.__name__} object."
        ) from None


async def _call(
    conn: Connection,
    method: str,
    path: str,
    *,
    body: Mapping[str, Any] | None = None,
    params: Mapping[str, Any] | None = None,
) -> Any:
    """One admin request; the answer's JSON (a list for ``/team/list``)."""
    kwargs: dict[str, Any] = {"params": dict(params or {})}
    if body is not None:
        data = orjson.dumps(body)

        async def content() -> Any:
            yield data

        kwargs.update(body=content, headers=_JSON, retry_unsafe=False)
    async with conn.wire(root=True) as wire:
        response = await wire.request(method, path, **kwargs)
    try:
        return orjson.loads(response.content)
    except orjson.JSONDecodeError:
        raise UpstreamError("filegate: the server answered with invalid JSON.") from None


def _fields(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


async def agenerate_key(
    *,
    key_alias: str | None = None,
    user_id: str | None = None,
    team_id: str | None = None,
    team_access: bool | None = None,
    duration: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    limits: Mapping[str, Any] | None = None,
    api_key: str | None = None,
    api_base: str | None = None,
    timeout: float | None = None,  # noqa: ASYNC109 - the per-request HTTP timeout
    max_retries: int | None = None,
) -> GeneratedKey:
    """Make a virtual key; ``duration`` is LiteLLM's (``30d``, ``12h``)."""
    conn = Connection.resolve(api_key, api_base, timeout, max_retries)
    body = {
        **(limits or {}),
        **_fields(
            key_alias=key_alias,
            user_id=user_id,
            team_id=team_id,
            team_access=team_access,
            duration=duration,
            metadata=dict(metadata) if metadata is not None else None,
        ),
    }
    return _model(GeneratedKey, await _call(conn, "POST", "/key/generate", body=body))


async def alist_keys(
    *,
    team_id: str | None = None,
    user_id: str | None = None,
    key_alias: str | None = None,
    page: int = 1,
    size: int = 100,
    api_key: str | None = None,
    api_base: str | None = None,
    timeout: float | None = None,  # noqa: ASYNC109 - the per-request HTTP timeout
    max_retries: int | None = None,
) -> KeyPage:
    """One page of keys (``page`` from 1, ``size`` up to 1000), each described in full."""
    conn = Connection.resolve(api_key, api_base, timeout, max_retries)
    params = _fields(
        team_id=team_id,
        user_id=user_id,
        key_alias=key_alias,
        page=page,
        size=size,
        return_full_object="true",
    )
    return _model(KeyPage, await _call(conn, "GET", "/key/list", params=params))


async def akey_info(
    key: str,
    *,
    api_key: str | None = None,
    api_base: str | None = None,
    timeout: float | None = None,  # noqa: ASYNC109 - the per-request HTTP timeout
    max_retries: int | None = None,
) -> KeyInfo:
    """A key by its id, its alias or its secret."""
    conn = Connection.resolve(api_key, api_base, timeout, max_retries)
    doc = await _call(conn, "GET", "/key/info", params={"key": key})
    return _model(KeyInfo, doc.get("info") if isinstance(doc, dict) else None)


async def adelete_keys(
    keys: Sequence[str],
    *,
    api_key: str | None = None,
    api_base: str | None = None,
    timeout: float | None = None,  # noqa: ASYNC109 - the per-request HTTP timeout
    max_retries: int | None = None,
) -> list[str]:
    """Delete keys named by id, alias or secret (all or none); the ids deleted."""
    conn = Connection.resolve(api_key, api_base, timeout, max_retries)
    doc = await _call(conn, "POST", "/key/delete", body={"keys": list(keys)})
    deleted = doc.get("deleted_keys") if isinstance(doc, dict) else None
    if not isinstance(deleted, list):
        raise UpstreamError("filegate: the server's answer names no deleted keys.")
    return [str(k) for k in deleted]


async def anew_team(
    *,
    team_id: str | None = None,
    team_alias: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    limits: Mapping[str, Any] | None = None,
    api_key: str | None = None,
    api_base: str | None = None,
    timeout: float | None = None,  # noqa: ASYNC109 - the per-request HTTP timeout
    max_retries: int | None = None,
) -> TeamInfo:
    """Make a team (its id is made up when not given)."""
    conn = Connection.resolve(api_key, api_base, timeout, max_retries)
    body = {
        **(limits or {}),
        **_fields(
            team_id=team_id,
            team_alias=team_alias,
            metadata=dict(metadata) if metadata is not None else None,
        ),
    }
    return _model(TeamInfo, await _call(conn, "POST", "/team/new", body=body))


async def alist_teams(
    *,
    api_key: str | None = None,
    api_base: str | None = None,
    timeout: float | None = None,  # noqa: ASYNC109 - the per-request HTTP timeout
    max_retries: int | None = None,
) -> list[TeamInfo]:
    conn = Connection.resolve(api_key, api_base, timeout, max_retries)
    doc = await _call(conn, "GET", "/team/list")
    if not isinstance(doc, list):
        raise UpstreamError("filegate: the server's answer is not a list of teams.")
    return [_model(TeamInfo, t) for t in doc]


async def ateam_info(
    team_id: str,
    *,
    api_key: str | None = None,
    api_base: str | None = None,
    timeout: float | None = None,  # noqa: ASYNC109 - the per-request HTTP timeout
    max_retries: int | None = None,
) -> TeamDetail:
    """A team and the ids of its keys."""
    conn = Connection.resolve(api_key, api_base, timeout, max_retries)
    return _model(TeamDetail, await _call(conn, "GET", "/team/info", params={"team_id": team_id}))


async def adelete_teams(
    team_ids: Sequence[str],
    *,
    api_key: str | None = None,
    api_base: str | None = None,
    timeout: float | None = None,  # noqa: ASYNC109 - the per-request HTTP timeout
    max_retries: int | None = None,
) -> list[str]:
    """Delete teams that hold no keys; the ids deleted."""
    conn = Connection.resolve(api_key, api_base, timeout, max_retries)
    doc = await _call(conn, "POST", "/team/delete", body={"team_ids": list(team_ids)})
    deleted = doc.get("deleted_teams") if isinstance(doc, dict) else None
    if not isinstance(deleted, list):
        raise UpstreamError("filegate: the server's answer names no deleted teams.")
    return [str(t) for t in deleted]


generate_key = sync_twin(agenerate_key, "generate_key")
list_keys = sync_twin(alist_keys, "list_keys")
key_info = sync_twin(akey_info, "key_info")
delete_keys = sync_twin(adelete_keys, "delete_keys")
new_team = sync_twin(anew_team, "new_team")
list_teams = sync_twin(alist_teams, "list_teams")
team_info = sync_twin(ateam_info, "team_info")
delete_teams = sync_twin(adelete_teams, "delete_teams")
