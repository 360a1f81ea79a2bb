"""Tenants: virtual keys, teams, their limits, and the audit trail.

Keys are random secrets shown once; only their SHA-256 is stored, and a
presented key is found by the digest of what was presented. A found key is
cached for ``KEY_CACHE_SECONDS`` per process: a key deleted or changed in
another process takes at most that long to be noticed (expiry is checked on
every request, so an expired key is refused at once).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from filegate.catalog.base import TenantStore
from filegate.core.ids import new_id
from filegate.errors import (
    AuthError,
    FileNotFound,
    InvalidRequest,
    PayloadTooLarge,
    RateLimited,
    StorageUnavailable,
)
from filegate.records import (
    LIMIT_FIELDS,
    ApiKey,
    AuditEvent,
    Limits,
    Quota,
    Scope,
    Team,
)

log = logging.getLogger("filegate")

KEY_CACHE_SECONDS = 2.0
MASTER = "master"
# At most five digits: 99999w is about 1,900 years, so an expiry always stays
# a valid timestamp (a longer one overflowed to a 500). ASCII digits only, so
# the OpenAPI document can state the same pattern.
DURATION_PATTERN = r"^ *([0-9]{1,5}) *([smhdw]) *$"
_DURATION = re.compile(DURATION_PATTERN)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
# The limits on jobs not yet finished, each checked in the catalog as a job is made.
InProgressLimit = Literal["max_batches_in_progress", "max_fine_tuning_jobs_in_progress"]


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def parse_duration(value: str) -> int:
    """LiteLLM's durations: ``30s``, ``15m``, ``12h``, ``30d``, ``2w`` -> seconds."""
    m = _DURATION.match(value)
    if not m:
        raise InvalidRequest(
            f"Invalid duration {value[:32]!r}; use e.g. 30s, 15m, 12h, 30d.",
            param="duration",
            code="invalid_value",
        )
    return int(m.group(1)) * _UNIT_SECONDS[m.group(2)]


def _tighter(a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else min(a, b)


def combine(*limits: Limits) -> Limits:
    """The tightest of several sets of limits, field by field."""
    out = Limits()
    for lim in limits:
        purposes = out.allowed_purposes
        if lim.allowed_purposes is not None:
            purposes = (
                lim.allowed_purposes
                if purposes is None
                else tuple(p for p in purposes if p in lim.allowed_purposes)
            )
        out = Limits(
            **{
                name: _tighter(getattr(out, name), getattr(lim, name))
                for name in LIMIT_FIELDS
                if name != "allowed_purposes"
            },
            allowed_purposes=purposes,
        )
    return out


@dataclass(slots=True)
class Principal:
    """The caller of one request: the master key (admin) or a virtual key."""

    key: ApiKey | None = None
    team: Team | None = None
    limits: Limits = field(default_factory=Limits)
    # Worked out once per principal: a cached key's principal serves every request
    # for KEY_CACHE_SECONDS, and these would otherwise be rebuilt on each one.
    _scope: Scope | None = field(default=None, repr=False, compare=False)
    _rates: dict[str, tuple[tuple[str, int], ...]] = field(
        default_factory=dict, repr=False, compare=False
    )

    @property
    def is_admin(self) -> bool:
        return self.key is None

    @property
    def actor(self) -> str:
        return MASTER if self.key is None else self.key.id

    @property
    def scope(self) -> Scope:
        scope = self._scope
        if scope is None:
            scope = Scope() if self.key is None else self.key.scope(self.team)
            self._scope = scope
        return scope

    def rate_caps(self, kind: str) -> tuple[tuple[str, int], ...]:
        """The (subject, per-minute cap) pairs a request of ``kind`` counts against."""
        caps = self._rates.get(kind)
        if caps is None:
            caps = ()
            if self.key is not None:
                subjects = [
                    (f"key:{self.key.id}", getattr(combine(self.key.limits, self._defaults), kind))
                ]
                if self.team is not None:
                    subjects.append((f"team:{self.team.uid}", getattr(self.team.limits, kind)))
                caps = tuple((s, cap) for s, cap in subjects if cap is not None)
            self._rates[kind] = caps
        return caps

    def quota(self) -> Quota | None:
        if self.key is None:
            return None
        key_limits = combine(self.key.limits, self._defaults)
        team_limits = self.team.limits if self.team is not None else Limits()
        return Quota(
            max_files=key_limits.max_files,
            team_max_files=team_limits.max_files,
            max_concurrent_uploads=self.limits.max_concurrent_uploads,
            max_stored_bytes=key_limits.max_stored_bytes,
            team_max_stored_bytes=team_limits.max_stored_bytes,
        )

    _defaults: Limits = field(default_factory=Limits)

    def batch_caps(self) -> tuple[int | None, int | None]:
        """(the key's, the team's) cap on batches in progress; None: no cap."""
        return self._in_progress_caps("max_batches_in_progress")

    def fine_tuning_caps(self) -> tuple[int | None, int | None]:
        """(the key's, the team's) cap on fine-tuning jobs in progress; None: no cap."""
        return self._in_progress_caps("max_fine_tuning_jobs_in_progress")

    def _in_progress_caps(self, name: InProgressLimit) -> tuple[int | None, int | None]:
        # The key's cap counts its own jobs, the team's all of its keys' together: two
        # caps, each checked against its own count, never merged into one.
        if self.key is None:
            return None, None
        key_cap: int | None = getattr(combine(self.key.limits, self._defaults), name)
        team_cap: int | None = getattr(self.team.limits, name) if self.team is not None else None
        return key_cap, team_cap

    def check_purpose(self, purpose: str) -> None:
        allowed = self.limits.allowed_purposes
        if allowed is not None and purpose not in allowed:
            raise InvalidRequest(
                f"This key may not upload files with purpose {purpose!r}; allowed: "
                f"{', '.join(allowed) or 'none'}.",
                param="purpose",
                code="purpose_not_allowed",
            )

    def max_file_size(self, gateway_max: int) -> int:
        cap = _tighter(gateway_max, self.limits.max_file_size)
        return gateway_max if cap is None else cap

    def check_declared_size(self, declared: int | None, gateway_max: int, overhead: int) -> None:
        cap = self.max_file_size(gateway_max)
        if declared is not None and declared > cap + overhead:
            raise PayloadTooLarge(f"File is larger than the {cap}-byte limit.", param="file")


ADMIN = Principal()


class TenantService:
    def __init__(
        self,
        store: TenantStore,
        *,
        defaults: Limits | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.defaults = defaults or Limits()
        self.clock = clock
        # token hash -> (when it was read, the principal it makes)
        self._cache: dict[str, tuple[float, Principal]] = {}
        # token hash -> the one lookup under way: when a key's entry runs out, every
        # request carrying it waits for that one instead of asking the catalog itself
        # (32 clients on one key made 32 lookups every 2 s: p99 of 90 ms on PostgreSQL).
        self._loading: dict[str, asyncio.Task[Principal]] = {}
        # Audit events that could not be written (the catalog was full or gone).
        self.lost_audit_events = 0

    # who is calling
    async def principal(self, secret: str, *, token_hash: str | None = None) -> Principal:
        """The principal of a presented key; ``token_hash`` is ``digest(secret)``, when
        the caller has worked it out already."""
        if token_hash is None:
            token_hash = digest(secret)
        now = self.clock()
        cached = self._cache.get(token_hash)
        if cached is not None and now - cached[0] < KEY_CACHE_SECONDS:
            principal = cached[1]
        else:
            loading = self._loading.get(token_hash)
            if loading is None:
                loading = asyncio.ensure_future(self._load(token_hash, now))
                self._loading[token_hash] = loading
                loading.add_done_callback(lambda done: self._loaded(token_hash, done))
            # Shielded: one waiter giving up (a client gone) must not cancel the
            # lookup the others wait for.
            principal = await asyncio.shield(loading)
        expires_at = principal.key.expires_at if principal.key is not None else None
        if expires_at is not None and now >= expires_at:
            raise AuthError("This API key has expired.", code="expired_api_key")
        return principal

    async def _load(self, token_hash: str, now: float) -> Principal:
        key = await self.store.key_by_hash(token_hash)
        if key is None:
            self._cache.pop(token_hash, None)
            raise AuthError("Incorrect API key provided.")
        team = await self.store.team(key.team_id) if key.team_id else None
        limits = combine(key.limits, team.limits if team else Limits(), self.defaults)
        principal = Principal(key=key, team=team, limits=limits, _defaults=self.defaults)
        # Not if the key was forgotten (changed, deleted) while this lookup ran: what it
        # read may be from before.
        if self._loading.get(token_hash) is asyncio.current_task():
            self._cache[token_hash] = (now, principal)
        return principal

    def _loaded(self, token_hash: str, done: asyncio.Task[Principal]) -> None:
        if self._loading.get(token_hash) is done:
            del self._loading[token_hash]
        if not done.cancelled():
            done.exception()  # retrieved, so a failed lookup nobody awaited is not logged

    def forget(self, *token_hashes: str) -> None:
        for token_hash in token_hashes:
            self._cache.pop(token_hash, None)
            self._loading.pop(token_hash, None)

    async def check_rate(self, principal: Principal, kind: str = "rpm") -> None:
        """Count a request (or an upload) against per-minute caps; 429 past them."""
        caps = principal.rate_caps(kind)
        if not caps:
            return
        now = self.clock()
        window = int(now // 60)
        for subject, cap in caps:
            try:
                count = await self.store.hit(subject, kind, window)
            except StorageUnavailable as exc:
                # A catalog that cannot count (a full disk) must not stop the reads
                # it can still serve; a write is refused by the catalog itself.
                log.warning("%s not counted against %s: %s", kind, subject, exc.__cause__ or exc)
                continue
            if count > cap:
                retry = max(1, int((window + 1) * 60 - now))
                what = "requests" if kind == "rpm" else "uploads"
                raise RateLimited(
                    f"Rate limit reached: {cap} {what} per minute.",
                    headers={"Retry-After": str(retry)},
                )

    # keys
    async def generate_key(
        self,
        actor: Principal,
        *,
        key_alias: str | None = None,
        user_id: str | None = None,
        team_id: str | None = None,
        team_access: bool = False,
        duration: str | None = None,
        metadata: dict[str, object] | None = None,
        limits: Limits | None = None,
    ) -> tuple[ApiKey, str]:
        if team_id is not None and await self.store.team(team_id) is None:
            raise InvalidRequest(
                f"No team {team_id!r}; create it with /team/new first.",
                param="team_id",
                code="unknown_team",
            )
        secret = "sk-" + secrets.token_urlsafe(32)
        key_id, created = new_id("key-")
        key = ApiKey(
            id=key_id,
            token_hash=digest(secret),
            preview=f"sk-...{secret[-4:]}",
            created_at=created,
            key_alias=key_alias,
            user_id=user_id,
            team_id=team_id,
            team_access=team_access,
            expires_at=created + parse_duration(duration) if duration is not None else None,
            metadata=metadata or {},
            limits=limits or Limits(),
        )
        await self.store.add_key(key)
        await self.audit(actor, "key.generate", key.id, detail={"key_alias": key_alias})
        return key, secret

    async def find_key(self, ref: str) -> ApiKey:
        """A key by its secret, its id, or its alias."""
        if ref.startswith("sk-"):
            key = await self.store.key_by_hash(digest(ref))
        else:
            found = await self.store.keys_where(id=ref) or await self.store.keys_where(
                key_alias=ref
            )
            key = found[0] if found else None
        if key is None:
            raise FileNotFound("No such key.", param="key", code="key_not_found")
        return key

    async def update_key(
        self, actor: Principal, ref: str, changes: dict[str, Any], limits: dict[str, Any]
    ) -> ApiKey:
        key = await self.find_key(ref)
        if (
            "team_id" in changes
            and changes["team_id"] is not None
            and await self.store.team(str(changes["team_id"])) is None
        ):
            raise InvalidRequest(
                f"No team {changes['team_id']!r}.", param="team_id", code="unknown_team"
            )
        duration = changes.pop("duration", None)
        if duration is not None:
            changes["expires_at"] = int(self.clock()) + parse_duration(str(duration))
        merged = {**key.limits.to_dict(), **limits}
        key = replace(
            key,
            **changes,
            limits=Limits.from_dict({k: v for k, v in merged.items() if v is not None}),
        )
        await self.store.save_key(key)
        self.forget(key.token_hash)
        await self.audit(
            actor, "key.update", key.id, detail={"fields": sorted([*changes, *limits])}
        )
        return key

    async def delete_keys(self, actor: Principal, refs: list[str]) -> list[ApiKey]:
        keys = [await self.find_key(ref) for ref in refs]
        await self.store.delete_keys([k.id for k in keys])
        self.forget(*(k.token_hash for k in keys))
        for key in keys:
            await self.audit(actor, "key.delete", key.id)
        return keys

    # teams
    async def new_team(
        self,
        actor: Principal,
        *,
        team_id: str | None,
        team_alias: str | None,
        metadata: dict[str, object] | None,
        limits: Limits,
    ) -> Team:
        uid, created = new_id("team-")
        team = Team(
            team_id=team_id or uid,
            created_at=created,
            uid=uid,
            team_alias=team_alias,
            metadata=metadata or {},
            limits=limits,
        )
        await self.store.add_team(team)
        await self.audit(actor, "team.new", team.team_id)
        return team

    async def get_team(self, team_id: str) -> Team:
        team = await self.store.team(team_id)
        if team is None:
            raise FileNotFound(f"No team {team_id[:64]!r}.", param="team_id", code="team_not_found")
        return team

    async def update_team(
        self,
        actor: Principal,
        team_id: str,
        changes: dict[str, Any],
        limits: dict[str, Any],
    ) -> Team:
        team = await self.get_team(team_id)
        merged = {**team.limits.to_dict(), **limits}
        team = replace(
            team,
            **changes,
            limits=Limits.from_dict({k: v for k, v in merged.items() if v is not None}),
        )
        await self.store.save_team(team)
        self._cache.clear()  # every cached member key carries the old team limits
        self._loading.clear()
        await self.audit(actor, "team.update", team.team_id)
        return team

    async def delete_team(self, actor: Principal, team_id: str) -> None:
        if await self.store.keys_where(team_id=team_id):
            raise InvalidRequest(
                "The team still has keys; delete or move them first.",
                param="team_id",
                code="team_not_empty",
            )
        if not await self.store.delete_team(team_id):
            raise FileNotFound(f"No team {team_id[:64]!r}.", param="team_id", code="team_not_found")
        await self.audit(actor, "team.delete", team_id)

    # audit
    async def audit(
        self,
        actor: Principal,
        action: str,
        subject: str | None = None,
        nbytes: int | None = None,
        detail: dict[str, object] | None = None,
    ) -> None:
        event_id, _ = new_id("evt-")
        event = AuditEvent(
            id=event_id,
            ts=int(self.clock()),
            actor=actor.actor,
            action=action,
            subject=subject,
            bytes=nbytes,
            detail=detail or {},
        )
        try:
            await self.store.record(event)
        except StorageUnavailable as exc:
            # What is audited has happened: failing its answer now (a download, a
            # file already made) would tell the client otherwise. The loss is
            # counted, and the event goes to the log instead.
            self.lost_audit_events += 1
            log.error(
                "audit event lost (%d since start; %s): %s %s %s by %s, %s bytes, %s",
                self.lost_audit_events,
                exc.__cause__ or exc,
                event.id,
                event.action,
                event.subject,
                event.actor,
                event.bytes,
                event.detail,
            )
