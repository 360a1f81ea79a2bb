"""``max_fine_tuning_jobs_in_progress`` through a real server and the official openai SDK.

A key's (and a team's) jobs that have not ended count: past the cap a create is refused
with 429 ``too_many_fine_tuning_jobs_in_progress`` in OpenAI's envelope, and nothing is
sent to the provider (no job, no copy of the training file). A job that ends (succeeds,
fails, is cancelled) gives its place back; a paused one keeps it. A team's cap counts all
of its keys together; nobody else's jobs count against a key. The refusal is counted in
``filegate_refusals_total`` and holds under concurrent creates, on one gateway (SQLite)
and across two gateways sharing a PostgreSQL catalog.
"""

from __future__ import annotations

import asyncio
import re
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import asyncpg
import openai
import pytest
from fine_tuning_support import HOLD, JOB_ID, ft_server, http, sdk, upload
from support import assert_error
from tenants_support import admin, make_key, make_team, unique
from upstream_support import Fake

from filegate.server.models import admin as admin_models
from tests.conftest import ServerProcess, wait_ready
from tests.postgres import postgres_url

__all__ = ["postgres_url"]

JOBS = "/v1/fine_tuning/jobs"
CODE = "too_many_fine_tuning_jobs_in_progress"
LIMIT = "max_fine_tuning_jobs_in_progress"
REFUSALS = re.compile(r'^filegate_refusals_total\{reason="rate_limit"\} (\S+)$', re.M)


@pytest.fixture(scope="module")
def server(fake: Fake, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    srv = ft_server(fake, tmp_path_factory.mktemp("fine-tuning-limits"))
    yield srv
    srv.stop()


@pytest.fixture(autouse=True)
def _reset(fake: Fake) -> None:
    fake.reset()
    fake.config(**HOLD)


def _create(client: openai.OpenAI, training: str) -> Any:
    job = client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=training)
    assert JOB_ID.fullmatch(job.id)
    return job


def _upstream_id(fake: Fake, before: set[str]) -> str:
    (made,) = [j["id"] for j in fake.jobs() if j["id"] not in before]
    return made


def _refused(fake: Fake, server: ServerProcess, key: str, training: str) -> dict[str, Any]:
    """A create that must be refused for want of room; nothing may reach the provider but
    the look at the key's unfinished jobs that precedes a refusal."""
    jobs, files = len(fake.jobs()), len(fake.files())
    seen = len(fake.requests())
    with pytest.raises(openai.RateLimitError) as caught:
        sdk(server, key).fine_tuning.jobs.create(model="gpt-4o-mini", training_file=training)
    assert caught.value.status_code == 429
    body = caught.value.body
    assert isinstance(body, dict) and body["code"] == CODE, body
    assert body["type"] == "rate_limit_error" and body["param"] == "training_file"
    sent = fake.requests()[seen:]
    assert {r["op"] for r in sent} <= {"ft_retrieve"}, sent
    assert (len(fake.jobs()), len(fake.files())) == (jobs, files)
    return body


def _refusal_count(server: ServerProcess) -> float:
    with admin(server) as c:
        text = c.get("/metrics").text
    found = REFUSALS.search(text)
    return float(found.group(1)) if found else 0.0


def test_key_cap_refuses_in_openais_envelope_and_sends_nothing(
    fake: Fake, server: ServerProcess
) -> None:
    secret, doc = make_key(server, **{LIMIT: 2})
    assert doc[LIMIT] == 2
    client = sdk(server, secret)
    # Kept in filegate's store only: a create that went ahead would copy it upstream.
    training = upload(client, deployment="filegate")
    route = {"extra_body": {"custom_llm_provider": "openai"}}
    for _ in range(2):
        client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=training, **route)
    assert len(fake.jobs()) == 2 and len(fake.files(purpose="fine-tune")) == 1
    counted = _refusal_count(server)
    copies = len(fake.files())
    with pytest.raises(openai.RateLimitError) as caught:
        client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=training, **route)
    body = caught.value.body
    assert isinstance(body, dict) and body["code"] == CODE
    assert body["message"] == "At most 2 fine-tuning jobs may be in progress at once for this key."
    assert len(fake.jobs()) == 2 and len(fake.files()) == copies
    # The same refusal by plain HTTP: OpenAI's envelope, and no Retry-After (waiting alone
    # frees no place).
    with http(server, secret) as c:
        r = c.post(JOBS, json={"model": "gpt-4o-mini", "training_file": training})
    err = assert_error(r, 429, param="training_file")
    assert err["code"] == CODE and "retry-after" not in r.headers
    assert _refusal_count(server) == counted + 2
    # The refused creates left nothing behind: the key lists its two jobs only.
    assert len(client.fine_tuning.jobs.list().data) == 2


def test_an_ended_job_frees_its_place_and_a_paused_one_keeps_it(
    fake: Fake, server: ServerProcess
) -> None:
    secret, _ = make_key(server, **{LIMIT: 1})
    client = sdk(server, secret)
    training = upload(client)
    first = _create(client, training)
    first_upstream = _upstream_id(fake, set())
    _refused(fake, server, secret, training)

    # Succeeded at the provider, unknown to the catalog yet: the refusal path asks first.
    fake.job(first_upstream, status="succeeded")
    second = _create(client, training)
    assert client.fine_tuning.jobs.retrieve(first.id).status == "succeeded"
    second_upstream = _upstream_id(fake, {first_upstream})

    # Paused still holds the place (it resumes without a new create).
    fake.job(second_upstream, status="running")
    assert client.fine_tuning.jobs.pause(second.id).status == "paused"
    _refused(fake, server, secret, training)
    assert client.fine_tuning.jobs.resume(second.id).status in ("running", "queued")
    _refused(fake, server, secret, training)

    # Cancelled through filegate: the place is free at once.
    assert client.fine_tuning.jobs.cancel(second.id).status == "cancelled"
    _create(client, training)
    third_upstream = _upstream_id(fake, {first_upstream, second_upstream})

    # Failed also ends a job.
    fake.job(third_upstream, status="failed", error={"code": "x", "message": "bad", "param": None})
    _create(client, training)
    statuses = [j.status for j in client.fine_tuning.jobs.list().data]
    assert statuses[1:] == ["failed", "cancelled", "succeeded"]


def test_team_cap_counts_every_key_of_the_team(fake: Fake, server: ServerProcess) -> None:
    team = make_team(server, **{LIMIT: 2})
    assert team[LIMIT] == 2
    a, _ = make_key(server, team_id=team["team_id"])
    b, _ = make_key(server, team_id=team["team_id"])
    # A key's own cap, looser than the team's, does not lift the team's.
    c, _ = make_key(server, team_id=team["team_id"], **{LIMIT: 5})
    outsider, _ = make_key(server, **{LIMIT: 1})
    files = {k: upload(sdk(server, k)) for k in (a, b, c, outsider)}
    made_a = _create(sdk(server, a), files[a])
    made_b = _create(sdk(server, b), files[b])
    body = _refused(fake, server, c, files[c])
    assert body["message"] == "At most 2 fine-tuning jobs may be in progress at once for this team."
    _refused(fake, server, a, files[a])
    # Another tenant's place is its own: the team's jobs do not count against it.
    _create(sdk(server, outsider), files[outsider])
    _refused(fake, server, outsider, files[outsider])
    # Isolation stays: b's job counted for a and c, but is not theirs to see.
    for other, own in ((a, [made_a.id]), (c, [])):
        with http(server, other) as h:
            assert_error(h.get(f"{JOBS}/{made_b.id}"), 404, param="fine_tuning_job_id")
        assert [j.id for j in sdk(server, other).fine_tuning.jobs.list().data] == own
    assert sdk(server, b).fine_tuning.jobs.cancel(made_b.id).status == "cancelled"
    _create(sdk(server, c), files[c])


def _at_once(servers: list[ServerProcess], secret: str, training: str, n: int) -> list[int]:
    """``n`` creates at the same moment, spread over ``servers``; their statuses."""
    outcomes: list[int] = []
    lock = threading.Lock()
    start = threading.Barrier(n)

    def attempt(server: ServerProcess) -> None:
        with http(server, secret) as c:
            start.wait()
            r = c.post(JOBS, json={"model": "gpt-4o-mini", "training_file": training})
        with lock:
            outcomes.append(r.status_code)

    threads = [
        threading.Thread(target=attempt, args=(servers[i % len(servers)],)) for i in range(n)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sorted(outcomes)


def test_concurrent_creates_never_pass_the_cap(fake: Fake, server: ServerProcess) -> None:
    secret, _ = make_key(server, **{LIMIT: 2})
    training = upload(sdk(server, secret))
    # The provider is slow to make a job, so every create is inside its reservation at
    # the same time: only the catalog's count can keep them apart.
    fake.fault(op="ft_create", delay=1.0, times=10)
    assert _at_once([server], secret, training, 8) == [200, 200, *[429] * 6]
    assert len(fake.jobs()) == 2


def _execute(url: str, sql: str) -> None:
    async def go() -> None:
        conn = await asyncpg.connect(url, timeout=5)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(go())


@pytest.fixture(scope="module")
def fleet(
    fake: Fake, postgres_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[ServerProcess]]:
    """Two gateways on one PostgreSQL catalog (a database of their own)."""
    base, name = postgres_url.rsplit("/", 1)
    fresh = f"{name}_ft_limits_{uuid.uuid4().hex[:6]}"
    _execute(postgres_url, f'CREATE DATABASE "{fresh}"')
    env = {"FILEGATE_DATABASE_URL": f"{base}/{fresh}"}
    where = tmp_path_factory.mktemp("fine-tuning-limits-fleet")
    servers = [ft_server(fake, where / f"g{i}", env=env, wait=False) for i in range(2)]
    try:
        for srv in servers:
            wait_ready(srv, timeout=60)
        yield servers
    finally:
        for srv in servers:
            srv.stop()
        _execute(postgres_url, f'DROP DATABASE IF EXISTS "{fresh}" WITH (FORCE)')


def test_two_gateways_on_postgresql_never_pass_the_cap(
    fake: Fake, fleet: list[ServerProcess]
) -> None:
    a, b = fleet
    team = make_team(a, **{LIMIT: 3})
    secret, _ = make_key(a, team_id=team["team_id"])
    training = upload(sdk(a, secret))
    fake.fault(op="ft_create", delay=1.0, times=10)
    assert _at_once(fleet, secret, training, 10) == [200] * 3 + [429] * 7
    assert len(fake.jobs()) == 3
    # The other gateway counts the same jobs: another key of the team is refused there.
    other, _ = make_key(b, team_id=team["team_id"])
    _refused(fake, b, other, upload(sdk(b, other)))


def test_the_limit_round_trips_through_the_admin_api(server: ServerProcess) -> None:
    team_id = unique("ft-cap")
    with admin(server) as c:
        made = c.post("/key/generate", json={LIMIT: 3})
        assert made.status_code == 200, made.text
        key = admin_models.GeneratedKey.model_validate_json(made.content)
        assert key.max_fine_tuning_jobs_in_progress == 3
        assert c.get("/key/info", params={"key": key.token}).json()["info"][LIMIT] == 3
        assert c.post("/key/update", json={"key": key.token, LIMIT: 7}).json()[LIMIT] == 7
        # Another change leaves it as it is; null clears it (then it is left out).
        kept = c.post("/key/update", json={"key": key.token, "user_id": "u"}).json()
        assert kept[LIMIT] == 7
        cleared = c.post("/key/update", json={"key": key.token, LIMIT: None})
        admin_models.KeyInfo.model_validate_json(cleared.content)
        assert LIMIT not in cleared.json()
        listed = c.get("/key/list", params={"return_full_object": "true", "size": 100}).json()
        assert LIMIT not in next(k for k in listed["keys"] if k["token"] == key.token)
        for bad in (-1, "5", True, 1.5):
            assert_error(c.post("/key/generate", json={LIMIT: bad}), 400, param=LIMIT)
        team = c.post("/team/new", json={"team_id": team_id, LIMIT: 4})
        assert admin_models.TeamInfo.model_validate_json(team.content).model_dump()[LIMIT] == 4
        info = c.get("/team/info", params={"team_id": team_id}).json()
        assert info["team_info"][LIMIT] == 4
        assert c.post("/team/update", json={"team_id": team_id, LIMIT: 1}).json()[LIMIT] == 1
        assert_error(c.post("/team/update", json={"team_id": team_id, LIMIT: -2}), 400, param=LIMIT)
        assert c.post("/team/delete", json={"team_ids": [team_id]}).status_code == 200
        assert c.post("/key/delete", json={"keys": [key.token]}).status_code == 200
