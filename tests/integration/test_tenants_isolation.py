"""Tenant isolation: nobody sees another tenant's files, by any route or parameter.

One gateway (with an OpenAI deployment at the fake upstream, so provider copies and
raw provider ids exist) and these callers:

* A: team T1, no team access        * B: team T2, no team access
* C: team T1, no team access        * D: team T1, **with** team access
* E: no team, team access asked for (without a team there is nothing to share)
* the master key

What each may see follows core/tenants.py and catalog/sql.py: a key sees the files it
made; with ``team_access`` also every file made by a key of its team (D sees A's, C's and
its own); the master key sees every file. So A, B, C and E see only their own files, and
A does not see D's. Everything else answers 404 exactly as an id that never existed
(the same message, apart from the id), never 403, and never shows up in a listing, its
``first_id``/``last_id`` or through an ``after`` cursor.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import openai
import pytest
from support import assert_error
from tenants_support import key_client, make_key, make_team, ok_file, post_file
from upstream_support import CLEAN_ENV, OPENAI_KEY, Fake, running_fake, write_config

from tests.conftest import MASTER_KEY, ServerProcess, start_server

NAMES = ("A", "B", "C", "D", "E", "master")
PURPOSES = ("user_data", "assistants")


@dataclass
class File:
    id: str
    owner: str  # a name from NAMES
    purpose: str
    provider: str  # "filegate" or "openai"


@dataclass
class World:
    server: ServerProcess
    fake: Fake
    secrets: dict[str, str]  # name -> secret (the master's is the master key)
    key_ids: dict[str, str]
    teams: dict[str, str | None]
    files: list[File] = field(default_factory=list)
    raw_id: str = ""  # a file made at the provider, outside filegate

    def client(self, name: str) -> httpx.Client:
        return key_client(self.server, self.secrets[name])

    def sdk(self, name: str) -> openai.OpenAI:
        return openai.OpenAI(
            base_url=self.server.api_url, api_key=self.secrets[name], max_retries=0, timeout=60
        )

    def visible(self, name: str) -> list[File]:
        if name == "master":
            return list(self.files)
        if name == "D":
            return [f for f in self.files if f.owner in ("A", "C", "D")]
        return [f for f in self.files if f.owner == name]

    def foreign(self, name: str) -> list[File]:
        seen = {f.id for f in self.visible(name)}
        return [f for f in self.files if f.id not in seen]


def _missing_id(world: World) -> str:
    """A well-formed filegate id that never existed, sorting among the real ones."""
    middle = sorted(f.id for f in world.files)[len(world.files) // 2]
    taken = {f.id for f in world.files}
    for last in "0123456789ABCDEFGHJKMNPQRSTVWXYZ":
        candidate = middle[:-1] + last
        if candidate not in taken:
            return candidate
    raise AssertionError("no free id")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    base = tmp_path_factory.mktemp("isolation")
    with running_fake(tmp_path_factory.mktemp("fake-upstream")) as fake:
        config = write_config(
            base / "filegate.yaml",
            "default_target: filegate\n"
            "deployments:\n"
            "  - name: openai\n"
            "    provider: openai\n"
            f"    api_base: {fake.url}/v1\n"
            f"    api_key: {OPENAI_KEY}\n"
            "    timeout: 30\n"
            "    max_retries: 0\n",
        )
        server = start_server(base, env=dict(CLEAN_ENV), args=["--config", str(config)])
        try:
            t1 = make_team(server)["team_id"]
            t2 = make_team(server)["team_id"]
            spec: dict[str, dict[str, Any]] = {
                "A": {"team_id": t1},
                "B": {"team_id": t2},
                "C": {"team_id": t1},
                "D": {"team_id": t1, "team_access": True},
                "E": {"team_access": True},
            }
            secrets = {"master": MASTER_KEY}
            key_ids = {"master": "master"}
            teams: dict[str, str | None] = {"master": None}
            for name, body in spec.items():
                secrets[name], info = make_key(server, key_alias=f"iso-{name}", **body)
                key_ids[name] = info["token"]
                teams[name] = info["team_id"]
            w = World(server, fake, secrets, key_ids, teams)
            # Interleaved, so every tenant's ids are spread over the whole id range.
            plan = [
                ("A", "user_data", "filegate"),
                ("B", "user_data", "filegate"),
                ("C", "assistants", "filegate"),
                ("D", "user_data", "filegate"),
                ("master", "assistants", "filegate"),
                ("A", "assistants", "openai"),
                ("E", "user_data", "filegate"),
                ("B", "assistants", "openai"),
                ("C", "user_data", "filegate"),
                ("A", "user_data", "filegate"),
                ("D", "assistants", "openai"),
                ("B", "user_data", "filegate"),
                ("master", "user_data", "filegate"),
                ("A", "assistants", "filegate"),
                ("E", "assistants", "filegate"),
            ]
            for i, (name, purpose, provider) in enumerate(plan):
                with w.client(name) as c:
                    fields = {"custom_llm_provider": provider} if provider == "openai" else {}
                    made = ok_file(c, f"file {i} of {name}".encode(), purpose=purpose, **fields)
                w.files.append(File(made["id"], name, purpose, provider))
            (raw,) = fake.seed(surface="openai", purpose="user_data", filename="outside.txt")
            w.raw_id = raw["id"]
            yield w
        finally:
            server.stop()


def expected_page(
    files: list[File],
    *,
    purpose: str | None,
    limit: int | None,
    order: str | None,
    after: str | None,
    provider: str | None,
) -> dict[str, Any]:
    items = [
        f
        for f in files
        if (purpose is None or f.purpose == purpose)
        and (provider is None or f.provider == provider)
    ]
    ascending = order == "asc"
    items.sort(key=lambda f: f.id, reverse=not ascending)
    if after is not None:
        # The cursor is a position in id order, whoever's id it is (or none's).
        items = [f for f in items if (f.id > after if ascending else f.id < after)]
    page = items[: limit or 10000]
    ids = [f.id for f in page]
    return {
        "ids": ids,
        "first_id": ids[0] if ids else None,
        "last_id": ids[-1] if ids else None,
        "has_more": len(items) > len(page),
    }


def got_page(resp: httpx.Response) -> dict[str, Any]:
    assert resp.status_code == 200, resp.text
    body = resp.json()
    return {
        "ids": [f["id"] for f in body["data"]],
        "first_id": body["first_id"],
        "last_id": body["last_id"],
        "has_more": body["has_more"],
    }


def _cursors(world: World, name: str) -> dict[str, str | None]:
    own = sorted(f.id for f in world.visible(name))
    foreign = sorted(f.id for f in world.foreign(name))
    cursors: dict[str, str | None] = {
        "none": None,
        "own": own[len(own) // 2],
        "missing": _missing_id(world),
    }
    if foreign:
        cursors["foreign"] = foreign[len(foreign) // 2]
    return cursors


# --- listing ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_list_every_parameter_combination(world: World, name: str) -> None:
    visible = world.visible(name)
    cursors = _cursors(world, name)
    grid = itertools.product(
        (None, "user_data", "assistants", "vision"),
        (None, 1, 2, 5),
        (None, "asc", "desc"),
        cursors.values(),
    )
    checked = 0
    with world.client(name) as c:
        for purpose, limit, order, after in grid:
            params = {
                k: v
                for k, v in (("purpose", purpose), ("limit", limit), ("order", order))
                if v is not None
            }
            if after is not None:
                params["after"] = after
            want = expected_page(
                visible, purpose=purpose, limit=limit, order=order, after=after, provider=None
            )
            assert got_page(c.get("/v1/files", params=params)) == want, (name, params)
            checked += 1
    assert checked == 4 * 4 * 3 * len(cursors)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize(
    ("path", "provider"),
    [
        ("/files", None),
        ("/filegate/v1/files", "filegate"),
        ("/filegate/files", "filegate"),
        ("/openai/v1/files", "openai"),
    ],
)
def test_list_aliases_and_provider_prefixes(
    world: World, name: str, path: str, provider: str | None
) -> None:
    visible = world.visible(name)
    cursors = _cursors(world, name)
    with world.client(name) as c:
        for purpose, limit, order, after in itertools.product(
            (None, "user_data"), (None, 1, 3), ("asc", "desc"), cursors.values()
        ):
            params: dict[str, Any] = {"order": order}
            if purpose:
                params["purpose"] = purpose
            if limit:
                params["limit"] = limit
            if after:
                params["after"] = after
            want = expected_page(
                visible, purpose=purpose, limit=limit, order=order, after=after, provider=provider
            )
            assert got_page(c.get(path, params=params)) == want, (name, path, params)
        # custom_llm_provider as a query parameter chooses the same way as the prefix.
        if provider is not None:
            want = expected_page(
                visible, purpose=None, limit=None, order=None, after=None, provider=provider
            )
            resp = c.get("/v1/files", params={"custom_llm_provider": provider})
            assert got_page(resp) == want


@pytest.mark.parametrize("name", NAMES)
def test_sdk_auto_pagination_sees_exactly_the_visible_files(world: World, name: str) -> None:
    client = world.sdk(name)
    for order in ("asc", "desc"):
        ids = [f.id for f in client.files.list(limit=1, order=order)]
        want = sorted((f.id for f in world.visible(name)), reverse=order == "desc")
        assert ids == want
    by_purpose = {f.id for f in client.files.list(purpose="assistants", limit=2)}
    assert by_purpose == {f.id for f in world.visible(name) if f.purpose == "assistants"}


def test_the_scopes_are_what_the_docstring_says(world: World) -> None:
    owners = {n: {f.owner for f in world.visible(n)} for n in NAMES}
    assert owners == {
        "A": {"A"},
        "B": {"B"},
        "C": {"C"},
        "D": {"A", "C", "D"},
        "E": {"E"},
        "master": set(NAMES),
    }
    assert world.teams["A"] == world.teams["C"] == world.teams["D"] != world.teams["B"]


# --- one file by id --------------------------------------------------------------------

OPERATIONS = (
    ("GET", "/v1/files/{id}"),
    ("GET", "/v1/files/{id}/content"),
    ("DELETE", "/v1/files/{id}"),
    ("GET", "/files/{id}"),
    ("GET", "/filegate/v1/files/{id}/content"),
    ("DELETE", "/filegate/files/{id}"),
)


def _error_for(c: httpx.Client, method: str, path: str, file_id: str) -> dict[str, Any]:
    resp = c.request(method, path.format(id=file_id))
    err = assert_error(resp, 404)
    # The message names the id asked for; with the id taken out, nothing is left to differ.
    assert file_id in err["message"]
    return {**err, "message": err["message"].replace(file_id, "<id>")}


@pytest.mark.parametrize("name", ["A", "B", "C", "D", "E"])
def test_foreign_ids_answer_exactly_like_ids_that_never_existed(world: World, name: str) -> None:
    missing = _missing_id(world)
    foreign = world.foreign(name)
    assert foreign
    with world.client(name) as c:
        for method, path in OPERATIONS:
            never = _error_for(c, method, path, missing)
            assert never == {
                "message": "No such File object: <id>",
                "type": "invalid_request_error",
                "param": "file_id",
                "code": None,
            }
            for f in foreign:
                assert _error_for(c, method, path, f.id) == never, (name, method, path, f)
    # Nothing was deleted by those attempts.
    with world.client("master") as m:
        listed = {f["id"] for f in m.get("/v1/files", params={"limit": 10000}).json()["data"]}
    assert {f.id for f in world.files} <= listed


@pytest.mark.parametrize("name", NAMES)
def test_visible_files_can_be_read(world: World, name: str) -> None:
    with world.client(name) as c:
        for f in world.visible(name):
            got = c.get(f"/v1/files/{f.id}")
            assert got.status_code == 200, got.text
            assert got.json()["purpose"] == f.purpose
            content = c.get(f"/v1/files/{f.id}/content")
            assert content.status_code == 200
            assert content.content.endswith(f"of {f.owner}".encode())


@pytest.mark.parametrize("name", ["A", "B", "C", "E"])
def test_sdk_sees_not_found_for_foreign_files(world: World, name: str) -> None:
    client = world.sdk(name)
    for f in world.foreign(name)[:4]:
        with pytest.raises(openai.NotFoundError):
            client.files.retrieve(f.id)
        with pytest.raises(openai.NotFoundError):
            client.files.content(f.id)
        with pytest.raises(openai.NotFoundError):
            client.files.delete(f.id)


def test_team_access_reads_and_deletes_team_files_and_nothing_else(world: World) -> None:
    with world.client("C") as c, world.client("D") as d, world.client("A") as a:
        c_file = ok_file(c, b"C's, for D to delete")["id"]
        d_file = ok_file(d, b"D's own")["id"]
        # A (same team, no team access) can neither see nor delete D's file.
        assert_error(a.get(f"/v1/files/{d_file}"), 404)
        assert_error(a.delete(f"/v1/files/{d_file}"), 404)
        assert d.get(f"/v1/files/{d_file}").status_code == 200
        # D deletes C's file; it is gone for C too.
        assert d.get(f"/v1/files/{c_file}/content").content == b"C's, for D to delete"
        assert d.delete(f"/v1/files/{c_file}").json() == {
            "id": c_file,
            "object": "file",
            "deleted": True,
        }
        assert_error(c.get(f"/v1/files/{c_file}"), 404)
        # B's files stay out of D's reach.
        b_file = next(f for f in world.files if f.owner == "B")
        assert_error(d.delete(f"/v1/files/{b_file.id}"), 404)
        assert d.delete(f"/v1/files/{d_file}").status_code == 200


# --- provider ids and the passthrough listing ---------------------------------------------


def _provider_copy_ids(world: World) -> list[str]:
    """The provider's own ids of the tenants' files kept at the openai deployment."""
    at_openai = [f for f in world.files if f.provider == "openai"]
    assert {f.owner for f in at_openai} == {"A", "B", "D"}
    copies = [str(f["id"]) for f in world.fake.files(surface="openai") if f["origin"] == "api"]
    assert len(copies) == len(at_openai)
    # They are the provider's ids, not filegate's.
    assert not {f.id for f in at_openai} & set(copies)
    return copies


@pytest.mark.parametrize("name", ["A", "B", "C", "D", "E"])
def test_raw_provider_ids_are_not_found_for_tenant_keys(world: World, name: str) -> None:
    copies = _provider_copy_ids(world)
    never = "file-abc123"
    with world.client(name) as c:
        for path in ("/openai/v1/files/{id}", "/openai/v1/files/{id}/content"):
            for method in ("GET", "DELETE") if path.endswith("{id}") else ("GET",):
                want = _error_for(c, method, path, never)
                # Their own files' copies included: provider ids are the master's alone.
                for raw in (world.raw_id, *copies):
                    assert _error_for(c, method, path, raw) == want
        # Chosen by query parameter instead of the path: the same.
        resp = c.get(f"/v1/files/{world.raw_id}", params={"custom_llm_provider": "openai"})
        assert_error(resp, 404)
        # Without any provider chosen, a raw id is no filegate id: 404 as well.
        assert_error(c.get(f"/v1/files/{world.raw_id}"), 404)
    # The master key does reach them, so the 404s above were the tenants' own.
    with world.client("master") as m:
        assert m.get(f"/openai/v1/files/{world.raw_id}").json()["id"] == world.raw_id
        for copy_id in copies:
            assert m.get(f"/openai/v1/files/{copy_id}").status_code == 200
        assert m.get(f"/openai/v1/files/{world.raw_id}/content").status_code == 200
    # The tenants' DELETE attempts removed nothing upstream.
    upstream = {f["id"] for f in world.fake.files(surface="openai")}
    assert {world.raw_id, *copies} <= upstream


@pytest.mark.parametrize("name", ["A", "B", "C", "D", "E"])
def test_passthrough_listing_needs_the_master_key(world: World, name: str) -> None:
    with world.client(name) as c:
        for params in (
            {"passthrough": "true"},
            {"passthrough": "TRUE", "limit": "1", "order": "asc"},
            {"passthrough": "1", "after": world.raw_id},
        ):
            assert_error(c.get("/openai/v1/files", params=params), 403, param="passthrough")
        resp = c.get("/v1/files", params={"passthrough": "true", "custom_llm_provider": "openai"})
        assert_error(resp, 403, param="passthrough")
    with world.client("master") as m:
        raw = m.get("/openai/v1/files", params={"passthrough": "true", "limit": 100})
        assert raw.status_code == 200, raw.text
        assert world.raw_id in {f["id"] for f in raw.json()["data"]}


# --- uploads (the Uploads API) --------------------------------------------------------------


def test_another_tenants_upload_is_not_found(world: World) -> None:
    with world.client("A") as a:
        created = a.post(
            "/v1/uploads",
            json={
                "filename": "parts.txt",
                "purpose": "user_data",
                "bytes": 5,
                "mime_type": "text/plain",
            },
        )
        assert created.status_code == 200, created.text
        upload_id = created.json()["id"]
    never = upload_id[:-1] + ("0" if upload_id[-1] != "0" else "1")
    for name in ("B", "C", "E"):
        with world.client(name) as c:
            for action, kwargs in (
                ("parts", {"files": {"data": ("p", b"hello", "application/octet-stream")}}),
                ("complete", {"json": {"part_ids": []}}),
                ("cancel", {}),
            ):
                errors = []
                for uid in (upload_id, never):
                    resp = c.post(f"/v1/uploads/{uid}/{action}", **kwargs)
                    err = assert_error(resp, 404)
                    errors.append({**err, "message": err["message"].replace(uid, "<id>")})
                assert errors[0] == errors[1], (name, action, errors)
    with world.client("A") as a:
        assert a.post(f"/v1/uploads/{upload_id}/cancel").json()["status"] == "cancelled"


def test_a_deleted_key_leaves_its_files_to_the_team_and_the_master(world: World) -> None:
    secret, info = make_key(world.server, team_id=world.teams["A"])
    with key_client(world.server, secret) as k:
        file_id = ok_file(k, b"orphan")["id"]
    with httpx.Client(base_url=world.server.base_url, headers=world.server.headers) as m:
        assert m.post("/key/delete", json={"keys": [info["token"]]}).status_code == 200
        assert m.get(f"/v1/files/{file_id}").status_code == 200
    with world.client("D") as d:
        assert d.get(f"/v1/files/{file_id}").status_code == 200
        assert d.delete(f"/v1/files/{file_id}").status_code == 200
    with world.client("A") as a:
        assert_error(a.get(f"/v1/files/{file_id}"), 404)
    with key_client(world.server, secret) as gone:
        assert_error(post_file(gone, b"x"), 401)


def test_a_team_made_again_under_the_same_name_owns_nothing_of_the_old_one(
    world: World,
) -> None:
    """Ownership is not inherited through a re-used team name: the old team's files and
    uploads are 404 to the new team's keys, by every route, and stay the master's."""
    server = world.server
    name = make_team(server)["team_id"]
    old_secret, old_key = make_key(server, team_id=name, team_access=True)
    with key_client(server, old_secret) as old:
        files = [ok_file(old, f"old team file {i}".encode())["id"] for i in range(3)]
        created = old.post(
            "/v1/uploads",
            json={
                "filename": "u.txt",
                "purpose": "user_data",
                "bytes": 5,
                "mime_type": "text/plain",
            },
        )
        assert created.status_code == 200, created.text
        upload_id = created.json()["id"]
        part = old.post(
            f"/v1/uploads/{upload_id}/parts", files={"data": ("p", b"hello", "text/plain")}
        )
        assert part.status_code == 200, part.text
    with httpx.Client(base_url=server.base_url, headers=server.headers) as m:
        assert m.post("/key/delete", json={"keys": [old_key["token"]]}).status_code == 200
        assert m.post("/team/delete", json={"team_ids": [name]}).status_code == 200
    again = make_team(server, team_id=name)
    assert again["team_id"] == name
    new_secret, _ = make_key(server, team_id=name, team_access=True)
    with key_client(server, new_secret) as new:
        assert [f["id"] for f in new.get("/v1/files").json()["data"]] == []
        assert new.get("/v1/files", params={"order": "asc"}).json()["data"] == []
        for file_id in files:
            assert_error(new.get(f"/v1/files/{file_id}"), 404, param="file_id")
            assert_error(new.get(f"/v1/files/{file_id}/content"), 404, param="file_id")
            assert_error(new.delete(f"/v1/files/{file_id}"), 404, param="file_id")
        for action, kwargs in (
            ("parts", {"files": {"data": ("p", b"hello", "text/plain")}}),
            ("complete", {"json": {"part_ids": [part.json()["id"]]}}),
            ("cancel", {}),
        ):
            resp = new.post(f"/v1/uploads/{upload_id}/{action}", **kwargs)
            assert_error(resp, 404, param="upload_id")
        # What the new team makes is its own, as ever.
        mine = ok_file(new, b"new team file")["id"]
        assert [f["id"] for f in new.get("/v1/files").json()["data"]] == [mine]
    with httpx.Client(base_url=server.base_url, headers=server.headers) as m:
        listed = {f["id"] for f in m.get("/v1/files").json()["data"]}
        assert set(files) <= listed
        for file_id in files:
            assert m.get(f"/v1/files/{file_id}/content").status_code == 200
        assert m.post(f"/v1/uploads/{upload_id}/cancel").json()["status"] == "cancelled"
