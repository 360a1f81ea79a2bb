"""The Batches API's rules through a real server: every error path in OpenAI's envelope,
tenant isolation for every operation and for output files, exact pagination, the
``max_batches_in_progress`` limit, and filegate's SDK functions against the gateway."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from batches_support import (
    BATCH_ID,
    CHAT,
    HOLD,
    batch_server,
    create,
    http,
    jsonl,
    line,
    sdk,
    upload,
)
from support import assert_error
from tenants_support import make_key, make_team
from upstream_support import Fake

import filegate
from filegate.server.models.batches import ListBatchesResponse
from tests.conftest import ServerProcess


@pytest.fixture(scope="module")
def server(fake: Fake, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    srv = batch_server(fake, tmp_path_factory.mktemp("batches-api"))
    yield srv
    srv.stop()


@pytest.fixture(autouse=True)
def _reset(fake: Fake) -> None:
    fake.reset()
    fake.config(**HOLD)


@pytest.fixture
def key(server: ServerProcess) -> str:
    return make_key(server)[0]


def _body(file_id: str, **extra: Any) -> dict[str, Any]:
    return {"input_file_id": file_id, "endpoint": CHAT, "completion_window": "24h", **extra}


def test_every_create_error_is_in_openais_envelope(
    fake: Fake, server: ServerProcess, key: str
) -> None:
    client = sdk(server, key)
    good = upload(client, [line(0)])
    other = client.files.create(file=("a.txt", b"hello"), purpose="assistants").id
    with http(server, key) as c:
        cases: list[tuple[Any, int, str | None, str | None]] = [
            (_body("file-01ARZ3NDEKTSV4RRFFQ69G5FAV"), 404, "input_file_id", None),
            (_body("file-abc"), 404, "input_file_id", None),
            (_body(other), 400, "input_file_id", "invalid_value"),
            (_body(good, endpoint="/v1/files"), 400, "endpoint", "invalid_value"),
            (_body(good, completion_window="48h"), 400, "completion_window", "invalid_value"),
            (_body(good, metadata={f"k{i}": "v" for i in range(17)}), 400, "metadata", None),
            (_body(good, metadata={"k" * 65: "v"}), 400, "metadata", None),
            (_body(good, metadata={"k": "v" * 513}), 400, "metadata", None),
            (_body(good, metadata={"k": 5}), 400, "metadata.k", "invalid_type"),
            (_body(good, surprise=1), 400, "surprise", "unknown_parameter"),
            ({"endpoint": CHAT, "completion_window": "24h"}, 400, "input_file_id", None),
            (_body(good, input_file_id=5), 400, "input_file_id", "invalid_type"),
            (
                _body(good, output_expires_after={"anchor": "created_at", "seconds": 10}),
                400,
                "output_expires_after.seconds",
                "invalid_value",
            ),
            (_body(good, metadata={"k": "a\x00b"}), 400, "metadata.k", "invalid_value"),
            ([1, 2], 400, None, "invalid_json"),
            (_body(good, custom_llm_provider="bedrock"), 400, "custom_llm_provider", None),
            (_body(good, model="no-such-deployment"), 400, "model", "unknown_deployment"),
        ]
        for body, status, param, code in cases:
            r = c.post("/v1/batches", json=body)
            err = assert_error(r, status)
            assert err["param"] == param, (body, err)
            if code is not None:
                assert err["code"] == code, (body, err)
        assert_error(c.post("/v1/batches", content=b"{nope"), 400, code="invalid_json")
        assert_error(c.post("/v1/batches?surprise=1", json=_body(good)), 400, param="surprise")
        for path in ("/v1/batches/batch_nope", "/v1/batches/batch_01ARZ3NDEKTSV4RRFFQ69G5FAV"):
            assert_error(c.get(path), 404, param="batch_id")
            assert_error(c.post(path + "/cancel"), 404, param="batch_id")
        assert_error(c.get("/v1/batches", params={"limit": 0}), 400, param="limit")
        assert_error(c.get("/v1/batches", params={"limit": 101}), 400, param="limit")
        assert_error(c.get("/v1/batches", params={"after": "x"}), 400, param="after")
        assert_error(c.get("/v1/batches", params={"order": "asc"}), 400, param="order")
    assert fake.batches() == []  # none of these reached the provider


def test_provider_errors_map_as_for_files(fake: Fake, server: ServerProcess, key: str) -> None:
    client = sdk(server, key)
    file_id = upload(client, [line(0)])
    with http(server, key) as c:
        fake.fault(op="batch_create", status=503, times=2)
        assert_error(c.post("/v1/batches", json=_body(file_id)), 502)
        fake.fault(op="batch_create", status=429, times=2)
        assert_error(c.post("/v1/batches", json=_body(file_id)), 429)
        fake.fault(op="batch_create", status=400, times=1)
        assert_error(c.post("/v1/batches", json=_body(file_id)), 400)
        slow = c.post("/v1/batches", json={**_body(file_id), "model": "openai"})
        assert slow.status_code == 200
        fake.fault(op="batch_retrieve", delay=3, times=1)
        # openai-slow times out after 1 s: the file is at "openai", so run one there.
        at_slow = upload(client, [line(0)], "openai-slow")
        made = c.post("/v1/batches", json=_body(at_slow)).json()
        fake.fault(op="batch_retrieve", delay=3, times=1)
        assert_error(c.get(f"/v1/batches/{made['id']}"), 504)
    # Failed creates leave no batch behind.
    assert [b.id for b in client.batches.list()] == [made["id"], slow.json()["id"]]


def test_tenants_see_only_their_own(fake: Fake, server: ServerProcess) -> None:
    team = make_team(server)
    alice, _ = make_key(server, team_id=team["team_id"], team_access=True)
    bob, _ = make_key(server, team_id=team["team_id"], team_access=True)
    eve, _ = make_key(server)
    a = sdk(server, alice)
    file_id = upload(a, [line(0), line(1, fail={"status": 400})])
    batch = create(a, file_id)
    fake.batch(fake.batches()[0]["id"], status="completed")
    done = a.batches.retrieve(batch.id)
    assert done.output_file_id and done.error_file_id
    with http(server, eve) as c:
        for r in (
            c.get(f"/v1/batches/{batch.id}"),
            c.post(f"/v1/batches/{batch.id}/cancel"),
            c.get(f"/v1/files/{done.output_file_id}"),
            c.get(f"/v1/files/{done.output_file_id}/content"),
            c.delete(f"/v1/files/{done.error_file_id}"),
        ):
            assert_error(r, 404)
        # A batch over another tenant's file is the same 404 as an unknown file.
        theirs = c.post("/v1/batches", json=_body(file_id)).json()
        unknown = c.post("/v1/batches", json=_body("file-01ARZ3NDEKTSV4RRFFQ69G5FAV")).json()
        assert theirs["error"]["param"] == unknown["error"]["param"] == "input_file_id"
        assert c.get("/v1/batches").json()["data"] == []
        assert c.get("/v1/files", params={"purpose": "batch_output"}).json()["data"] == []
    # The team sees it (the files rule), and so does the master key.
    b = sdk(server, bob)
    assert b.batches.retrieve(batch.id).id == batch.id
    assert {f.id for f in b.files.list(purpose="batch_output")} == {
        done.output_file_id,
        done.error_file_id,
    }
    assert sdk(server).batches.retrieve(batch.id).output_file_id == done.output_file_id
    assert len(fake.batches()) == 1


def test_pagination_is_exact_over_many_batches(fake: Fake, server: ServerProcess, key: str) -> None:
    client = sdk(server, key)
    file_id = upload(client, [line(0)])
    made = [create(client, file_id).id for _ in range(27)]
    newest_first = made[::-1]
    with http(server, key) as c:
        listed = c.get("/v1/batches")
        ListBatchesResponse.model_validate_json(listed.content)  # the document's model
        first = listed.json()
        assert [b["id"] for b in first["data"]] == newest_first[:20]
        assert first["has_more"] is True and first["first_id"] == newest_first[0]
        seen: list[str] = []
        after = None
        while True:
            params: dict[str, Any] = {"limit": 4}
            if after:
                params["after"] = after
            page = c.get("/v1/batches", params=params).json()
            seen += [b["id"] for b in page["data"]]
            assert page["last_id"] == (page["data"][-1]["id"] if page["data"] else None)
            if not page["has_more"]:
                break
            after = page["last_id"]
        assert seen == newest_first
        last = c.get("/v1/batches", params={"limit": 7, "after": newest_first[19]}).json()
        assert [b["id"] for b in last["data"]] == newest_first[20:]
        assert last["has_more"] is False
    # The SDK's auto-pagination walks the same list.
    assert [b.id for b in client.batches.list(limit=5)] == newest_first
    # The page's unfinished batches were asked about: they are in progress now.
    assert {b.status for b in client.batches.list(limit=100)} == {"in_progress"}


def test_max_batches_in_progress(fake: Fake, server: ServerProcess) -> None:
    secret, doc = make_key(server, max_batches_in_progress=2)
    assert doc.get("max_batches_in_progress", 2) == 2
    client = sdk(server, secret)
    file_id = upload(client, [line(0)])
    first = create(client, file_id)
    create(client, file_id)
    with http(server, secret) as c:
        err = assert_error(c.post("/v1/batches", json=_body(file_id)), 429)
    assert err["code"] == "too_many_batches_in_progress"
    # One finishes upstream: the next create notices it and goes ahead.
    provider_ids = [b["id"] for b in fake.batches()]
    fake.batch(provider_ids[0], status="completed")
    third = create(client, file_id)
    assert BATCH_ID.fullmatch(third.id)
    assert first.id != third.id
    with httpx.Client(base_url=server.base_url, headers=server.headers) as admin:
        team = make_team(server, max_batches_in_progress=1)
        member, _ = make_key(server, team_id=team["team_id"])
        assert admin.get("/key/info", params={"key": member}).status_code == 200
    m = sdk(server, member)
    create(m, upload(m, [line(0)]))
    with http(server, member) as c:
        assert_error(c.post("/v1/batches", json=_body(upload(m, [line(0)]))), 429)


def test_sdk_functions_through_the_gateway(fake: Fake, server: ServerProcess, key: str) -> None:
    options: dict[str, Any] = {
        "custom_llm_provider": "filegate",
        "api_base": server.api_url,
        "api_key": key,
    }
    file_id = upload(sdk(server, key), [line(0), line(1)])
    made = filegate.create_batch("24h", CHAT, file_id, metadata={"a": "b"}, **options)
    assert isinstance(made, filegate.Batch) and BATCH_ID.fullmatch(made.id)
    assert made.input_file_id == file_id and made.metadata == {"a": "b"}
    fake.batch(fake.batches()[0]["id"], status="completed")
    got = filegate.retrieve_batch(made.id, **options)
    assert got.status == "completed" and got.output_file_id
    assert got.request_counts == {"total": 2, "completed": 2, "failed": 0}
    page = filegate.list_batches(limit=10, **options)
    assert [b.id for b in page] == [made.id] and page.has_more is False
    with pytest.raises(filegate.FileNotFound):
        filegate.retrieve_batch("batch_01ARZ3NDEKTSV4RRFFQ69G5FAV", **options)
    with pytest.raises(filegate.InvalidRequest):
        filegate.cancel_batch(made.id, **options)  # completed: the provider refuses


def test_sdk_functions_straight_to_the_provider(fake: Fake) -> None:
    options: dict[str, Any] = {"api_base": f"{fake.url}/v1", "api_key": "sk-upstream"}
    made_file = fake.oai().files.create(file=("in.jsonl", jsonl([line(0)])), purpose="batch")
    made = filegate.create_batch("24h", CHAT, made_file.id, **options)
    assert made.id.startswith("batch_") and made.input_file_id == made_file.id
    cancelled = filegate.cancel_batch(made.id, **options)
    assert cancelled.status in ("cancelling", "cancelled")
    assert [b.id for b in filegate.list_batches(**options)] == [made.id]
