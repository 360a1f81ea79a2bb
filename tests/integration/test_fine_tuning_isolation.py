"""Tenant isolation for fine-tuning jobs: nobody reaches another's job or its result files.

Keys: A and C in one team, D in that team with ``team_access``, B in another team. A makes
a job that succeeds (so it has a result file). B and C see neither, through any operation
(404s, as for files, and nothing sent upstream); D and the master key see both; a job's
result file belongs to the job's owner.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from fine_tuning_support import HOLD, ft_server, http, only_upstream_job, sdk, upload
from support import assert_error
from tenants_support import make_key, make_team
from upstream_support import Fake

from tests.conftest import ServerProcess

JOBS = "/v1/fine_tuning/jobs"
ACTIONS = [
    ("GET", ""),
    ("POST", "/cancel"),
    ("POST", "/pause"),
    ("POST", "/resume"),
    ("GET", "/events"),
    ("GET", "/checkpoints"),
]


@dataclass
class World:
    server: ServerProcess
    keys: dict[str, str]
    job_id: str
    upstream_id: str
    training: str
    result: str


@pytest.fixture(scope="module")
def world(fake: Fake, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    srv = ft_server(fake, tmp_path_factory.mktemp("fine-tuning-isolation"))
    try:
        fake.reset()
        fake.config(**HOLD)
        t1, t2 = make_team(srv)["team_id"], make_team(srv)["team_id"]
        keys = {
            "A": make_key(srv, team_id=t1)[0],
            "B": make_key(srv, team_id=t2)[0],
            "C": make_key(srv, team_id=t1)[0],
            "D": make_key(srv, team_id=t1, team_access=True)[0],
        }
        client = sdk(srv, keys["A"])
        training = upload(client)
        job = client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=training)
        upstream = only_upstream_job(fake)
        fake.job(upstream["id"], status="succeeded")
        (result,) = client.fine_tuning.jobs.retrieve(job.id).result_files
        yield World(srv, keys, job.id, upstream["id"], training, result)
    finally:
        srv.stop()


@pytest.mark.parametrize("who", ["B", "C"])
@pytest.mark.parametrize(("method", "suffix"), ACTIONS)
def test_others_get_404_for_every_operation(
    fake: Fake, world: World, who: str, method: str, suffix: str
) -> None:
    before = len(fake.requests())
    with http(world.server, world.keys[who]) as c:
        r = c.request(method, f"{JOBS}/{world.job_id}{suffix}")
    err = assert_error(r, 404, param="fine_tuning_job_id")
    assert world.upstream_id not in err["message"]
    assert len(fake.requests()) == before  # the provider was not asked


@pytest.mark.parametrize("who", ["B", "C"])
def test_others_list_nothing(world: World, who: str) -> None:
    client = sdk(world.server, world.keys[who])
    assert list(client.fine_tuning.jobs.list()) == []
    assert client.files.list(purpose="fine-tune-results").data == []


@pytest.mark.parametrize("who", ["B", "C"])
def test_others_cannot_reach_the_result_file(world: World, who: str) -> None:
    with http(world.server, world.keys[who]) as c:
        for method, path in (
            ("GET", f"/v1/files/{world.result}"),
            ("GET", f"/v1/files/{world.result}/content"),
            ("DELETE", f"/v1/files/{world.result}"),
        ):
            assert_error(c.request(method, path), 404)


@pytest.mark.parametrize("who", ["B", "C"])
def test_others_cannot_train_on_the_owners_file(fake: Fake, world: World, who: str) -> None:
    before = len(fake.requests(op="ft_create"))
    with http(world.server, world.keys[who]) as c:
        r = c.post(JOBS, json={"model": "gpt-4o-mini", "training_file": world.training})
    assert_error(r, 404, param="training_file")
    assert len(fake.requests(op="ft_create")) == before


@pytest.mark.parametrize("who", ["A", "D", "master"])
def test_owner_team_reader_and_master_see_job_and_results(world: World, who: str) -> None:
    key = world.server.master_key if who == "master" else world.keys[who]
    client = sdk(world.server, key)
    assert client.fine_tuning.jobs.retrieve(world.job_id).result_files == [world.result]
    assert world.job_id in [j.id for j in client.fine_tuning.jobs.list()]
    meta = client.files.retrieve(world.result)
    assert meta.purpose == "fine-tune-results"
    assert client.files.content(world.result).text.startswith("step,")
    events = client.fine_tuning.jobs.list_events(world.job_id, limit=1)
    assert len(events.data) == 1


def test_the_result_file_is_the_owners(world: World) -> None:
    # Listed among the owner's files, with the owner's other files.
    with httpx.Client(
        base_url=world.server.base_url,
        headers={"Authorization": f"Bearer {world.keys['A']}"},
        timeout=60,
    ) as c:
        r = c.get("/v1/files")
    assert r.status_code == 200, r.text
    ids = {f["id"] for f in r.json()["data"]}
    assert {world.training, world.result} <= ids
