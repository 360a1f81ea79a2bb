"""core/tenants.py: limits arithmetic, durations, principals, and TenantService on SQLite.

TenantService runs over the real catalog (``SQLCatalog.tenants``) on a temp SQLite
file; time comes from an injected clock, so the key cache and the rate windows are
exercised without sleeping. A second service over the same catalog plays "another
gateway process" (its own key cache, the same database).
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from filegate.catalog.sql import SQLCatalog
from filegate.core.tenants import (
    ADMIN,
    KEY_CACHE_SECONDS,
    MASTER,
    Principal,
    TenantService,
    combine,
    digest,
    parse_duration,
)
from filegate.errors import (
    AuthError,
    Conflict,
    FileNotFound,
    InvalidRequest,
    PayloadTooLarge,
    RateLimited,
)
from filegate.records import ApiKey, Limits, Quota, Scope, Team

# --- combine() ----------------------------------------------------------------------


def test_combine_of_nothing_is_no_limits() -> None:
    assert combine() == Limits()
    assert combine(Limits(), Limits()) == Limits()


def test_combine_takes_the_tightest_value_of_each_field() -> None:
    key = Limits(max_file_size=100, max_files=10, rpm=None, upload_rpm=5)
    team = Limits(max_file_size=50, max_files=None, rpm=30, max_stored_bytes=1000)
    defaults = Limits(max_file_size=200, max_files=20, rpm=60, max_concurrent_uploads=3)
    assert combine(key, team, defaults) == Limits(
        max_file_size=50,
        max_stored_bytes=1000,
        max_files=10,
        rpm=30,
        upload_rpm=5,
        max_concurrent_uploads=3,
    )
    # Order does not matter; zero is a limit like any other, not "unset".
    assert combine(defaults, team, key) == combine(key, team, defaults)
    assert combine(Limits(max_files=0), Limits(max_files=5)).max_files == 0


def test_combine_intersects_allowed_purposes() -> None:
    everything = Limits()
    two = Limits(allowed_purposes=("batch", "user_data"))
    other = Limits(allowed_purposes=("user_data", "assistants", "batch"))
    assert combine(everything, two).allowed_purposes == ("batch", "user_data")
    assert combine(two, everything).allowed_purposes == ("batch", "user_data")
    # The first list's order is kept.
    assert combine(two, other).allowed_purposes == ("batch", "user_data")
    assert combine(other, two).allowed_purposes == ("user_data", "batch")
    assert combine(two, Limits(allowed_purposes=("vision",))).allowed_purposes == ()
    assert combine(two, Limits(allowed_purposes=())).allowed_purposes == ()
    assert combine(everything, everything).allowed_purposes is None


# --- parse_duration() ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30),
        ("15m", 900),
        ("12h", 43200),
        ("30d", 2592000),
        ("2w", 1209600),
        ("0s", 0),
        (" 5 s ", 5),
        ("99999w", 99999 * 7 * 86400),
    ],
)
def test_parse_duration(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    "text",
    ["", "5", "s", "5y", "-5s", "1.5h", "5 sec", "5S", "999999d", "\u0663s", "5\ts", "ss"],
)
def test_parse_duration_refuses(text: str) -> None:
    with pytest.raises(InvalidRequest) as err:
        parse_duration(text)
    assert (err.value.param, err.value.code) == ("duration", "invalid_value")


def test_longest_duration_still_gives_a_valid_timestamp() -> None:
    import datetime as dt

    # Six digits used to overflow to a 500; five cannot pass year 9999.
    longest = int(time.time()) + parse_duration("99999w")
    assert dt.datetime.fromtimestamp(longest, dt.UTC).year < 9999


# --- Principal ----------------------------------------------------------------------


def _key(**kwargs: object) -> ApiKey:
    base: dict[str, object] = {
        "id": "key-1",
        "token_hash": "h",
        "preview": "sk-...",
        "created_at": 0,
    }
    return ApiKey(**{**base, **kwargs})  # type: ignore[arg-type]


def test_admin_principal() -> None:
    assert ADMIN.is_admin and ADMIN.actor == MASTER
    assert ADMIN.scope == Scope() and ADMIN.scope.is_admin
    assert ADMIN.quota() is None
    assert ADMIN.max_file_size(1000) == 1000
    for purpose in ("batch", "assistants", "vision"):
        ADMIN.check_purpose(purpose)
    # The master key has only the gateway's own cap.
    ADMIN.check_declared_size(1010, 1000, 10)
    with pytest.raises(PayloadTooLarge):
        ADMIN.check_declared_size(1011, 1000, 10)


def test_key_principal_scope_and_actor() -> None:
    key = _key(team_id="t1", team_access=True)
    p = Principal(key=key, team=Team("t1", 0, "team-U1"))
    assert not p.is_admin and p.actor == "key-1"
    # The team's files are known by its uid, not by its (re-usable) name.
    assert p.scope == Scope(owner="key-1", team="team-U1", team_access=True)
    assert p.scope.sees_team
    # team_access without a team sees only its own files.
    lonely = Principal(key=_key(team_access=True))
    assert not lonely.scope.sees_team


def test_quota_splits_key_and_team_caps() -> None:
    defaults = Limits(max_files=100, max_stored_bytes=10_000, max_concurrent_uploads=4)
    key = _key(team_id="t", limits=Limits(max_files=5))
    team = Team("t", 0, "team-U2", limits=Limits(max_files=50, max_stored_bytes=2_000))
    combined = combine(key.limits, team.limits, defaults)
    p = Principal(key=key, team=team, limits=combined, _defaults=defaults)
    assert p.quota() == Quota(
        max_files=5,  # the key's own, tighter than the default
        team_max_files=50,
        max_concurrent_uploads=4,
        max_stored_bytes=10_000,  # the default applies per key
        team_max_stored_bytes=2_000,
    )
    # No team: no team caps.
    solo = Principal(key=_key(), limits=defaults, _defaults=defaults)
    assert solo.quota() == Quota(max_files=100, max_concurrent_uploads=4, max_stored_bytes=10_000)


def test_check_purpose() -> None:
    p = Principal(key=_key(), limits=Limits(allowed_purposes=("batch", "user_data")))
    p.check_purpose("batch")
    p.check_purpose("user_data")
    with pytest.raises(InvalidRequest) as err:
        p.check_purpose("assistants")
    assert (err.value.param, err.value.code) == ("purpose", "purpose_not_allowed")
    assert "batch, user_data" in err.value.message
    nothing = Principal(key=_key(), limits=Limits(allowed_purposes=()))
    with pytest.raises(InvalidRequest, match="allowed: none"):
        nothing.check_purpose("batch")
    Principal(key=_key()).check_purpose("vision")  # no list: everything


def test_max_file_size() -> None:
    assert Principal(key=_key()).max_file_size(1000) == 1000
    assert Principal(key=_key(), limits=Limits(max_file_size=10)).max_file_size(1000) == 10
    assert Principal(key=_key(), limits=Limits(max_file_size=5000)).max_file_size(1000) == 1000
    # A cap of zero is a cap (only empty files), not "no cap".
    assert Principal(key=_key(), limits=Limits(max_file_size=0)).max_file_size(1000) == 0


def test_check_declared_size_boundary() -> None:
    p = Principal(key=_key(), limits=Limits(max_file_size=100))
    p.check_declared_size(None, 1000, 50)  # no Content-Length: judged while streaming
    p.check_declared_size(150, 1000, 50)  # exactly the cap plus the form's overhead
    with pytest.raises(PayloadTooLarge) as err:
        p.check_declared_size(151, 1000, 50)
    assert err.value.param == "file" and "100-byte" in err.value.message


# --- TenantService on a real catalog ------------------------------------------------


class Clock:
    def __init__(self) -> None:
        # A whole second, so window arithmetic below is exact in floating point.
        self.now = float(int(time.time()))

    def __call__(self) -> float:
        return self.now


@dataclass
class Env:
    catalog: SQLCatalog
    clock: Clock
    tenants: TenantService
    other: TenantService  # another "process": same database, its own cache


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    catalog = await SQLCatalog.open(f"sqlite:///{tmp_path}/catalog.db")
    clock = Clock()
    defaults = Limits(max_file_size=1_000_000)
    yield Env(
        catalog,
        clock,
        TenantService(catalog.tenants, defaults=defaults, clock=clock),
        TenantService(catalog.tenants, defaults=defaults, clock=clock),
    )
    await catalog.aclose()


async def test_generate_key_stores_a_digest_and_audits(env: Env) -> None:
    key, secret = await env.tenants.generate_key(
        ADMIN, key_alias="alice", user_id="u1", metadata={"a": 1}, limits=Limits(rpm=5)
    )
    assert secret.startswith("sk-") and len(secret) > 40
    assert key.id.startswith("key-")
    assert key.token_hash == hashlib.sha256(secret.encode()).hexdigest() == digest(secret)
    assert key.preview == f"sk-...{secret[-4:]}"
    stored = await env.catalog.tenants.key_by_hash(key.token_hash)
    assert stored == key
    assert secret not in repr(stored)
    events, more = await env.catalog.tenants.events(
        limit=10, after=None, actor=None, action=None, subject=None
    )
    assert not more
    assert [(e.actor, e.action, e.subject) for e in events] == [(MASTER, "key.generate", key.id)]
    assert events[0].detail == {"key_alias": "alice"}
    assert events[0].ts == int(env.clock.now)


async def test_generate_key_checks_team_and_alias(env: Env) -> None:
    with pytest.raises(InvalidRequest) as err:
        await env.tenants.generate_key(ADMIN, team_id="nope")
    assert err.value.code == "unknown_team"
    await env.tenants.generate_key(ADMIN, key_alias="same")
    with pytest.raises(Conflict):
        await env.tenants.generate_key(ADMIN, key_alias="same")
    with pytest.raises(InvalidRequest):
        await env.tenants.generate_key(ADMIN, duration="forever")


async def test_principal_combines_key_team_and_defaults(env: Env) -> None:
    team = await env.tenants.new_team(
        ADMIN,
        team_id="t1",
        team_alias=None,
        metadata=None,
        limits=Limits(max_file_size=500, rpm=10),
    )
    key, secret = await env.tenants.generate_key(
        ADMIN, team_id=team.team_id, team_access=True, limits=Limits(rpm=3)
    )
    p = await env.tenants.principal(secret)
    assert p.key == key and p.team == team
    assert p.limits == Limits(max_file_size=500, rpm=3)
    assert p.scope == Scope(owner=key.id, team=team.uid, team_access=True)
    with pytest.raises(AuthError) as err:
        await env.tenants.principal(secret + "x")
    assert err.value.code == "invalid_api_key"


async def test_find_key_by_secret_id_or_alias(env: Env) -> None:
    key, secret = await env.tenants.generate_key(ADMIN, key_alias="finder")
    for ref in (secret, key.id, "finder"):
        assert (await env.tenants.find_key(ref)).id == key.id
    for ref in ("sk-unknown", "key-unknown", "nobody"):
        with pytest.raises(FileNotFound):
            await env.tenants.find_key(ref)


async def test_delete_is_at_once_here_and_within_the_cache_window_elsewhere(env: Env) -> None:
    _, secret = await env.tenants.generate_key(ADMIN, key_alias="doomed")
    await env.tenants.principal(secret)
    await env.other.principal(secret)  # the other process has it cached now
    await env.tenants.delete_keys(ADMIN, ["doomed"])
    with pytest.raises(AuthError):
        await env.tenants.principal(secret)
    # Still cached over there, until the window has passed.
    base = env.clock.now
    env.clock.now = base + KEY_CACHE_SECONDS - 0.01
    await env.other.principal(secret)
    env.clock.now = base + KEY_CACHE_SECONDS
    with pytest.raises(AuthError):
        await env.other.principal(secret)


async def test_cache_saves_lookups_within_its_window(env: Env) -> None:
    _, secret = await env.tenants.generate_key(ADMIN)
    calls = 0
    real = env.catalog.tenants.key_by_hash

    async def counting(token_hash: str) -> ApiKey | None:
        nonlocal calls
        calls += 1
        return await real(token_hash)

    env.catalog.tenants.key_by_hash = counting  # type: ignore[method-assign]
    for _ in range(5):
        await env.tenants.principal(secret)
    assert calls == 1
    env.clock.now += KEY_CACHE_SECONDS
    await env.tenants.principal(secret)
    assert calls == 2
    # A wrong key is never cached: each try asks the database.
    for _ in range(3):
        with pytest.raises(AuthError):
            await env.tenants.principal("sk-wrong")
    assert calls == 5


class HeldLookups:
    """The catalog's key lookups, counted and held until ``release`` is set."""

    def __init__(self, env: Env) -> None:
        self.calls = 0
        self.release = asyncio.Event()
        self._real = env.catalog.tenants.key_by_hash
        env.catalog.tenants.key_by_hash = self  # type: ignore[method-assign]

    async def __call__(self, token_hash: str) -> ApiKey | None:
        self.calls += 1
        await self.release.wait()
        return await self._real(token_hash)


async def test_concurrent_requests_share_one_lookup_when_the_entry_runs_out(env: Env) -> None:
    _, secret = await env.tenants.generate_key(ADMIN)
    lookups = HeldLookups(env)
    waiters = [asyncio.ensure_future(env.tenants.principal(secret)) for _ in range(32)]
    await asyncio.sleep(0)
    # One waiter gives up (its client went away): the others still get the key.
    waiters[0].cancel()
    lookups.release.set()
    done = await asyncio.gather(*waiters[1:])
    ids = {p.key.id for p in done if p.key is not None}
    assert lookups.calls == 1 and len(done) == 31 and len(ids) == 1 and waiters[0].cancelled()
    # Then the entry is cached as before.
    await env.tenants.principal(secret)
    assert lookups.calls == 1


async def test_a_key_forgotten_during_its_lookup_is_not_cached_from_it(env: Env) -> None:
    _, secret = await env.tenants.generate_key(ADMIN)
    lookups = HeldLookups(env)
    first = asyncio.ensure_future(env.tenants.principal(secret))
    await asyncio.sleep(0)
    env.tenants.forget(hashlib.sha256(secret.encode()).hexdigest())
    lookups.release.set()
    await first
    # What that lookup read may predate the change: the next request asks again.
    await env.tenants.principal(secret)
    assert lookups.calls == 2


async def test_a_failed_shared_lookup_fails_every_waiter_and_is_not_kept(env: Env) -> None:
    calls = 0
    real = env.catalog.tenants.key_by_hash

    async def counting(token_hash: str) -> ApiKey | None:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.01)
        return await real(token_hash)

    env.catalog.tenants.key_by_hash = counting  # type: ignore[method-assign]
    results = await asyncio.gather(
        *(env.tenants.principal("sk-wrong") for _ in range(5)), return_exceptions=True
    )
    assert all(isinstance(r, AuthError) for r in results) and calls == 1
    with pytest.raises(AuthError):
        await env.tenants.principal("sk-wrong")
    assert calls == 2


async def test_expiry_is_checked_on_every_request_even_when_cached(env: Env) -> None:
    key, secret = await env.tenants.generate_key(ADMIN, duration="10s")
    assert key.expires_at == key.created_at + 10
    env.clock.now = key.created_at + 9.5
    await env.tenants.principal(secret)
    env.clock.now = key.created_at + 10  # within the cache window of the last lookup
    with pytest.raises(AuthError) as err:
        await env.tenants.principal(secret)
    assert err.value.code == "expired_api_key"


async def test_update_key(env: Env) -> None:
    key, secret = await env.tenants.generate_key(
        ADMIN, key_alias="upd", limits=Limits(rpm=5, max_files=3)
    )
    await env.tenants.principal(secret)
    await env.other.principal(secret)
    updated = await env.tenants.update_key(
        ADMIN,
        "upd",
        {"key_alias": "renamed", "duration": "1h"},
        {"rpm": None, "max_files": 1, "allowed_purposes": ["batch"]},
    )
    assert updated.key_alias == "renamed"
    assert updated.expires_at == int(env.clock.now) + 3600
    assert updated.limits == Limits(max_files=1, allowed_purposes=("batch",))
    # Here at once; in the other process after the cache window.
    assert (await env.tenants.principal(secret)).limits.max_files == 1
    assert (await env.other.principal(secret)).limits.max_files == 3
    env.clock.now += KEY_CACHE_SECONDS
    assert (await env.other.principal(secret)).limits.max_files == 1
    with pytest.raises(InvalidRequest):
        await env.tenants.update_key(ADMIN, key.id, {"team_id": "ghost"}, {})
    with pytest.raises(FileNotFound):
        await env.tenants.update_key(ADMIN, "nobody", {}, {})
    events, _ = await env.catalog.tenants.events(
        limit=10, after=None, actor=None, action="key.update", subject=key.id
    )
    assert events[0].detail == {
        "fields": ["allowed_purposes", "expires_at", "key_alias", "max_files", "rpm"]
    }


async def test_team_update_reaches_cached_member_keys(env: Env) -> None:
    await env.tenants.new_team(
        ADMIN, team_id="t", team_alias="T", metadata={"x": 1}, limits=Limits(max_files=10)
    )
    _, secret = await env.tenants.generate_key(ADMIN, team_id="t")
    assert (await env.tenants.principal(secret)).limits.max_files == 10
    team = await env.tenants.update_team(ADMIN, "t", {"team_alias": "T2"}, {"max_files": 2})
    assert team.team_alias == "T2" and team.limits == Limits(max_files=2)
    assert (await env.tenants.principal(secret)).limits.max_files == 2
    with pytest.raises(FileNotFound):
        await env.tenants.get_team("ghost")


async def test_delete_team(env: Env) -> None:
    await env.tenants.new_team(ADMIN, team_id="t", team_alias=None, metadata=None, limits=Limits())
    with pytest.raises(Conflict):
        await env.tenants.new_team(
            ADMIN, team_id="t", team_alias=None, metadata=None, limits=Limits()
        )
    key, _ = await env.tenants.generate_key(ADMIN, team_id="t")
    with pytest.raises(InvalidRequest) as err:
        await env.tenants.delete_team(ADMIN, "t")
    assert err.value.code == "team_not_empty"
    await env.tenants.delete_keys(ADMIN, [key.id])
    await env.tenants.delete_team(ADMIN, "t")
    with pytest.raises(FileNotFound):
        await env.tenants.delete_team(ADMIN, "t")
    generated = await env.tenants.new_team(
        ADMIN, team_id=None, team_alias=None, metadata=None, limits=Limits()
    )
    assert generated.team_id.startswith("team-")


async def test_a_team_made_again_is_another_team(env: Env) -> None:
    """Files belong to a team's uid; a team made again under a deleted one's name gets
    a new one, so its keys' scope reaches nothing of the old team's."""
    first = await env.tenants.new_team(
        ADMIN, team_id="t", team_alias=None, metadata=None, limits=Limits()
    )
    key, _ = await env.tenants.generate_key(ADMIN, team_id="t", team_access=True)
    await env.tenants.delete_keys(ADMIN, [key.id])
    await env.tenants.delete_team(ADMIN, "t")
    second = await env.tenants.new_team(
        ADMIN, team_id="t", team_alias=None, metadata=None, limits=Limits()
    )
    assert second.team_id == first.team_id and second.uid != first.uid
    _, secret = await env.tenants.generate_key(ADMIN, team_id="t", team_access=True)
    assert (await env.tenants.principal(secret)).scope.team == second.uid


async def test_rate_limit_window_and_retry_after(env: Env) -> None:
    _, secret = await env.tenants.generate_key(ADMIN, limits=Limits(rpm=2, upload_rpm=1))
    env.clock.now = (int(env.clock.now) // 60 + 1) * 60 + 10.5  # 10.5 s into a minute
    p = await env.tenants.principal(secret)
    await env.tenants.check_rate(p)
    await env.tenants.check_rate(p)
    with pytest.raises(RateLimited) as err:
        await env.tenants.check_rate(p)
    assert err.value.status_code == 429
    assert err.value.headers == {"Retry-After": "49"}
    assert err.value.code == "rate_limit_exceeded" and "2 requests" in err.value.message
    # Uploads are counted on their own.
    await env.tenants.check_rate(p, "upload_rpm")
    with pytest.raises(RateLimited, match="1 uploads"):
        await env.tenants.check_rate(p, "upload_rpm")
    # The next minute starts afresh; the last second of a window says "1".
    env.clock.now += 60
    p = await env.tenants.principal(secret)
    await env.tenants.check_rate(p)
    env.clock.now = (int(env.clock.now) // 60 + 1) * 60 - 0.2
    p = await env.tenants.principal(secret)
    await env.tenants.check_rate(p)  # the second of this window
    with pytest.raises(RateLimited) as err:
        await env.tenants.check_rate(p)
    assert err.value.headers == {"Retry-After": "1"}


async def test_rate_counts_are_shared_by_processes_and_team_members(env: Env) -> None:
    await env.tenants.new_team(
        ADMIN, team_id="t", team_alias=None, metadata=None, limits=Limits(rpm=5)
    )
    _, s1 = await env.tenants.generate_key(ADMIN, team_id="t", limits=Limits(rpm=3))
    _, s2 = await env.tenants.generate_key(ADMIN, team_id="t")
    env.clock.now = (int(env.clock.now) // 60 + 1) * 60 + 1
    here, there = env.tenants, env.other
    k1 = await here.principal(s1)
    await here.check_rate(k1)
    await there.check_rate(await there.principal(s1))
    await here.check_rate(k1)
    with pytest.raises(RateLimited, match="3 requests"):  # the key's own cap
        await there.check_rate(await there.principal(s1))
    k2 = await there.principal(s2)
    await there.check_rate(k2)
    await here.check_rate(await here.principal(s2))
    with pytest.raises(RateLimited, match="5 requests"):  # the team's, over both keys
        await there.check_rate(k2)
    # The master key is never rate-limited.
    for _ in range(10):
        await here.check_rate(ADMIN)


async def test_defaults_cap_rates_of_keys_without_their_own(tmp_path: Path) -> None:
    catalog = await SQLCatalog.open(f"sqlite:///{tmp_path}/c.db")
    try:
        clock = Clock()
        clock.now = (int(clock.now) // 60 + 1) * 60 + 1
        tenants = TenantService(catalog.tenants, defaults=Limits(rpm=1), clock=clock)
        _, secret = await tenants.generate_key(ADMIN, limits=Limits(rpm=50))
        p = await tenants.principal(secret)
        assert p.limits.rpm == 1
        await tenants.check_rate(p)
        with pytest.raises(RateLimited):
            await tenants.check_rate(p)
    finally:
        await catalog.aclose()


async def test_audit_events_page_newest_first(env: Env) -> None:
    for i in range(7):
        env.clock.now += 1
        await env.tenants.audit(ADMIN, "file.create", f"file-{i}", nbytes=i)
        await asyncio.sleep(0.002)  # event ids order by the millisecond they were made in
    seen: list[str] = []
    after = None
    while True:
        page, more = await env.catalog.tenants.events(
            limit=3, after=after, actor=MASTER, action="file.create", subject=None
        )
        seen += [e.subject or "" for e in page]
        if not more:
            break
        after = page[-1].id
    assert seen == [f"file-{i}" for i in reversed(range(7))]
    one, _ = await env.catalog.tenants.events(
        limit=10, after=None, actor=None, action=None, subject="file-3"
    )
    assert [(e.bytes, e.ts) for e in one] == [(3, int(env.clock.now) - 3)]
