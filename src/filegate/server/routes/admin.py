"""Key, team and audit routes, compatible with LiteLLM's where they overlap.

Only the master key manages keys and teams; a virtual key may read its own
``/key/info``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from filegate.core.tenants import Principal
from filegate.errors import InvalidRequest, PermissionDenied
from filegate.records import ApiKey, AuditEvent, Limits, Team
from filegate.server.auth import authenticate
from filegate.server.models.admin import (
    LIMIT_MAX,
    KeyDelete,
    KeyGenerate,
    KeyUpdate,
    TeamDelete,
    TeamNew,
    TeamUpdate,
)
from filegate.server.request import query, read_json
from filegate.server.responses import JSONResponse

if TYPE_CHECKING:
    from filegate.core.gateway import Gateway


async def _admin(request: Request) -> tuple[Gateway, Principal]:
    gateway: Gateway = request.app.state.gateway
    principal = await authenticate(request)
    if not principal.is_admin:
        raise PermissionDenied("Only the master key may do this.", code="admin_only")
    return gateway, principal


def _iso(ts: int | None) -> str | None:
    return None if ts is None else dt.datetime.fromtimestamp(ts, dt.UTC).isoformat()


def key_info(key: ApiKey) -> dict[str, Any]:
    return {
        "token": key.id,
        "key_name": key.preview,
        "key_alias": key.key_alias,
        "user_id": key.user_id,
        "team_id": key.team_id,
        "team_access": key.team_access,
        "created_at": _iso(key.created_at),
        "expires": _iso(key.expires_at),
        "metadata": key.metadata,
        **key.limits.to_dict(),
    }


def team_info(team: Team) -> dict[str, Any]:
    return {
        "team_id": team.team_id,
        "team_alias": team.team_alias,
        "created_at": _iso(team.created_at),
        "metadata": team.metadata,
        **team.limits.to_dict(),
    }


def _event(event: AuditEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "object": "audit.event",
        "created_at": event.ts,
        "actor": event.actor,
        "action": event.action,
        "subject": event.subject,
        "bytes": event.bytes,
        "detail": event.detail,
    }


async def generate_key(request: Request) -> Response:
    gateway, actor = await _admin(request)
    body = await read_json(request, KeyGenerate)
    key, secret = await gateway.tenants.generate_key(
        actor,
        key_alias=body.key_alias,
        user_id=body.user_id,
        team_id=body.team_id,
        team_access=body.team_access,
        duration=body.duration,
        metadata=body.metadata,
        limits=Limits.from_dict(body.limits()),
    )
    # The secret is shown this once; only its digest is kept.
    return JSONResponse({"key": secret, **key_info(key)})


async def info_key(request: Request) -> Response:
    gateway: Gateway = request.app.state.gateway
    principal = await authenticate(request)
    ref = query(request).get("key")
    if principal.key is not None:
        own = principal.key
        if (
            ref is not None
            and ref not in (own.id, own.key_alias)
            and not (ref.startswith("sk-") and (await gateway.tenants.find_key(ref)).id == own.id)
        ):
            raise PermissionDenied("A key may only look at itself.", code="admin_only")
        key = own
    elif ref is None:
        raise InvalidRequest(
            "Missing required parameter: 'key'.", param="key", code="missing_required_parameter"
        )
    else:
        key = await gateway.tenants.find_key(ref)
    return JSONResponse({"key": key.id, "info": key_info(key)})


async def list_keys(request: Request) -> Response:
    gateway, _ = await _admin(request)
    q = query(request, _LIST_KEYS_PARAMS)
    page = _count(q, "page", 1, 1, LIMIT_MAX)
    size = _count(q, "size", 100, 1, 1000)
    keys = await gateway.tenants.store.keys_where(
        team_id=q.get("team_id"), user_id=q.get("user_id"), key_alias=q.get("key_alias")
    )
    chunk = keys[(page - 1) * size : page * size]
    full_flag = q.get("return_full_object", "false").lower()
    if full_flag not in ("true", "false", "1", "0"):
        raise InvalidRequest(
            "Invalid value for 'return_full_object': expected true or false.",
            param="return_full_object",
            code="invalid_value",
        )
    full = full_flag in ("true", "1")
    return JSONResponse(
        {
            "keys": [key_info(k) if full else k.id for k in chunk],
            "total_count": len(keys),
            "current_page": page,
            "total_pages": max(1, -(-len(keys) // size)),
        }
    )


_LIST_KEYS_PARAMS = frozenset(
    {"page", "size", "team_id", "user_id", "key_alias", "return_full_object"}
)
_INT = re.compile(r"[0-9]{1,19}")


def _count(q: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    """An integer query parameter in ``low..high`` (ASCII digits: ``int()`` takes more)."""
    value = q.get(name)
    if value is None:
        return default
    number = int(value) if _INT.fullmatch(value) else None
    if number is None or not low <= number <= high:
        raise InvalidRequest(
            f"Invalid value for '{name}': expected an integer from {low} to {high}.",
            param=name,
            code="invalid_value",
        )
    return number


async def update_key(request: Request) -> Response:
    gateway, actor = await _admin(request)
    body = await read_json(request, KeyUpdate)
    fields = ("key_alias", "user_id", "team_id", "team_access", "duration", "metadata")
    changes = {f: getattr(body, f) for f in fields if f in body.model_fields_set}
    if changes.get("team_access") is None:
        changes.pop("team_access", None)
    if changes.get("metadata") is None:
        changes.pop("metadata", None)
    key = await gateway.tenants.update_key(actor, body.key, changes, body.limits())
    return JSONResponse(key_info(key))


async def delete_keys(request: Request) -> Response:
    gateway, actor = await _admin(request)
    body = await read_json(request, KeyDelete)
    refs = [*(body.keys or []), *(body.key_aliases or [])]
    if not refs:
        raise InvalidRequest(
            "Name the keys to delete in 'keys' or 'key_aliases'.",
            param="keys",
            code="missing_required_parameter",
        )
    deleted = await gateway.tenants.delete_keys(actor, refs)
    return JSONResponse({"deleted_keys": [k.id for k in deleted]})


async def new_team(request: Request) -> Response:
    gateway, actor = await _admin(request)
    body = await read_json(request, TeamNew)
    team = await gateway.tenants.new_team(
        actor,
        team_id=body.team_id,
        team_alias=body.team_alias,
        metadata=body.metadata,
        limits=Limits.from_dict(body.limits()),
    )
    return JSONResponse(team_info(team))


async def info_team(request: Request) -> Response:
    gateway, _ = await _admin(request)
    team_id = query(request).get("team_id")
    if not team_id:
        raise InvalidRequest(
            "Missing required parameter: 'team_id'.",
            param="team_id",
            code="missing_required_parameter",
        )
    team = await gateway.tenants.get_team(team_id)
    keys = await gateway.tenants.store.keys_where(team_id=team_id)
    return JSONResponse(
        {"team_id": team.team_id, "team_info": team_info(team), "keys": [k.id for k in keys]}
    )


async def list_teams(request: Request) -> Response:
    gateway, _ = await _admin(request)
    return JSONResponse([team_info(t) for t in await gateway.tenants.store.all_teams()])


async def update_team(request: Request) -> Response:
    gateway, actor = await _admin(request)
    body = await read_json(request, TeamUpdate)
    changes: dict[str, Any] = {
        f: getattr(body, f)
        for f in ("team_alias", "metadata")
        if f in body.model_fields_set and getattr(body, f) is not None
    }
    team = await gateway.tenants.update_team(actor, body.team_id, changes, body.limits())
    return JSONResponse(team_info(team))


async def delete_teams(request: Request) -> Response:
    gateway, actor = await _admin(request)
    body = await read_json(request, TeamDelete)
    for team_id in body.team_ids:
        await gateway.tenants.delete_team(actor, team_id)
    return JSONResponse({"deleted_teams": body.team_ids})


async def audit(request: Request) -> Response:
    gateway, _ = await _admin(request)
    q = query(request, frozenset({"limit", "after", "actor", "action", "subject"}))
    limit = _count(q, "limit", 100, 1, 1000)
    events, has_more = await gateway.tenants.store.events(
        limit=limit,
        after=q.get("after"),
        actor=q.get("actor"),
        action=q.get("action"),
        subject=q.get("subject"),
    )
    data = [_event(e) for e in events]
    return JSONResponse(
        {
            "object": "list",
            "data": data,
            "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None,
            "has_more": has_more,
        }
    )


routes = [
    Route("/key/generate", generate_key, methods=["POST"]),
    Route("/key/info", info_key, methods=["GET"]),
    Route("/key/list", list_keys, methods=["GET"]),
    Route("/key/update", update_key, methods=["POST"]),
    Route("/key/delete", delete_keys, methods=["POST"]),
    Route("/team/new", new_team, methods=["POST"]),
    Route("/team/info", info_team, methods=["GET"]),
    Route("/team/list", list_teams, methods=["GET"]),
    Route("/team/update", update_team, methods=["POST"]),
    Route("/team/delete", delete_teams, methods=["POST"]),
    Route("/audit", audit, methods=["GET"]),
]
