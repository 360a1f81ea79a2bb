"""Every way a fine-tuning request can go wrong through filegate, and what the client sees.

Bad bodies, bad or foreign file ids, files at two deployments, a target that cannot
fine-tune, bad listing parameters, and the provider's own refusals and failures: each
a clear error in OpenAI's envelope naming the field, with nothing sent upstream where
filegate could tell first, and no job left behind.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from fine_tuning_support import HOLD, ft_server, http, sdk, upload
from support import assert_error
from tenants_support import make_key
from upstream_support import Fake

from tests.conftest import ServerProcess

JOBS = "/v1/fine_tuning/jobs"
MISSING_FILE = "file-" + "0" * 26
MISSING_JOB = "ftjob-" + "0" * 26


@pytest.fixture(scope="module")
def server(fake: Fake, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    srv = ft_server(fake, tmp_path_factory.mktemp("fine-tuning-errors"))
    yield srv
    srv.stop()


@pytest.fixture(autouse=True)
def _reset(fake: Fake) -> None:
    fake.reset()
    fake.config(**HOLD)


@pytest.fixture
def key(server: ServerProcess) -> str:
    return make_key(server)[0]


@pytest.fixture
def c(server: ServerProcess, key: str) -> Iterator[httpx.Client]:
    with http(server, key) as client:
        yield client


@pytest.fixture
def training(server: ServerProcess, key: str) -> str:
    return upload(sdk(server, key))


def _creates(fake: Fake) -> list[dict[str, Any]]:
    return fake.requests(op="ft_create")


def _no_jobs(c: httpx.Client) -> None:
    r = c.get(JOBS)
    assert r.status_code == 200, r.text
    assert r.json()["data"] == []


@pytest.mark.parametrize(
    ("body", "param", "code"),
    [
        ({"training_file": "x", "epochs": 3}, "epochs", "unknown_parameter"),
        ({"training_file": "x", "\u00e9": 1}, "\u00e9", "unknown_parameter"),
        ({"training_file": "x"}, "model", "missing_required_parameter"),
        ({"model": "gpt-4o-mini"}, "training_file", "missing_required_parameter"),
        ({"training_file": 5}, "training_file", "invalid_type"),
        ({"training_file": "x", "seed": "5"}, "seed", "invalid_type"),
        ({"training_file": "x", "seed": 1.5}, "seed", "invalid_type"),
        ({"training_file": "x", "suffix": 7}, "suffix", "invalid_type"),
        ({"training_file": "x", "hyperparameters": "fast"}, "hyperparameters", "invalid_type"),
        ({"training_file": "x", "method": {"type": "rlhf"}}, "method.type", "invalid_value"),
        ({"training_file": "x", "method": {"type": "dpo", "x": {}}}, "method.x", None),
        ({"training_file": "x", "metadata": {"k": 1}}, "metadata.k", "invalid_type"),
        ({"training_file": "x", "integrations": {}}, "integrations", "invalid_type"),
    ],
)
def test_bad_bodies_are_400s_naming_the_field(
    fake: Fake, c: httpx.Client, body: dict[str, Any], param: str, code: str | None
) -> None:
    body = {"model": "gpt-4o-mini", **body} if "model" not in body and param != "model" else body
    err = assert_error(c.post(JOBS, json=body), 400, param=param)
    if code is not None:
        assert err["code"] == code
    assert _creates(fake) == []


@pytest.mark.parametrize(
    "raw", [b"", b"not json", b"[1, 2]", b'"text"', b'{"model": "m\\u0000", "training_file": "x"}']
)
def test_bodies_that_are_no_json_object_are_400s(fake: Fake, c: httpx.Client, raw: bytes) -> None:
    r = c.post(JOBS, content=raw, headers={"Content-Type": "application/json"})
    assert_error(r, 400)
    assert _creates(fake) == []


def test_huge_body_is_refused(fake: Fake, c: httpx.Client) -> None:
    r = c.post(JOBS, json={"model": "gpt-4o-mini", "training_file": "x", "suffix": "s" * 2**20})
    assert_error(r, 400, code="body_too_large")
    assert _creates(fake) == []


@pytest.mark.parametrize("field", ["training_file", "validation_file"])
@pytest.mark.parametrize("bad", [MISSING_FILE, "file-abc", "../../etc/passwd", "x" * 5000])
def test_unknown_files_are_404s_naming_the_field(
    fake: Fake, c: httpx.Client, training: str, field: str, bad: str
) -> None:
    body = {"model": "gpt-4o-mini", "training_file": training, field: bad}
    err = assert_error(c.post(JOBS, json=body), 404, param=field)
    assert "No such File object" in err["message"] and len(err["message"]) < 300
    assert _creates(fake) == []


@pytest.mark.parametrize("field", ["training_file", "validation_file"])
def test_another_keys_file_is_a_404_and_nothing_is_sent(
    fake: Fake, server: ServerProcess, c: httpx.Client, training: str, field: str
) -> None:
    other = upload(sdk(server, make_key(server)[0]))
    body = {"model": "gpt-4o-mini", "training_file": training, field: other}
    assert_error(c.post(JOBS, json=body), 404, param=field)
    assert _creates(fake) == []
    _no_jobs(c)


@pytest.mark.parametrize("field", ["training_file", "validation_file"])
def test_a_file_of_another_purpose_is_a_400(
    fake: Fake, server: ServerProcess, key: str, c: httpx.Client, training: str, field: str
) -> None:
    other = upload(sdk(server, key), b"notes\n", purpose="assistants")
    body = {"model": "gpt-4o-mini", "training_file": training, field: other}
    err = assert_error(c.post(JOBS, json=body), 400, param=field, code="invalid_value")
    assert "'assistants'" in err["message"] and "'fine-tune'" in err["message"]
    assert _creates(fake) == []


def test_files_at_two_deployments_are_refused(
    fake: Fake, server: ServerProcess, key: str, c: httpx.Client, training: str
) -> None:
    elsewhere = upload(sdk(server, key), deployment="azure")
    body = {"model": "gpt-4o-mini", "training_file": training, "validation_file": elsewhere}
    err = assert_error(c.post(JOBS, json=body), 400, param="validation_file")
    assert err["code"] == "file_not_at_deployment" and "'openai'" in err["message"]
    assert _creates(fake) == []
    _no_jobs(c)


def test_a_file_kept_elsewhere_cannot_train_at_a_named_deployment(
    fake: Fake, c: httpx.Client, training: str
) -> None:
    body = {"model": "gpt-4o-mini", "training_file": training, "custom_llm_provider": "azure"}
    err = assert_error(c.post(JOBS, json=body), 400, param="training_file")
    assert err["code"] == "file_not_at_deployment"
    assert _creates(fake) == []


def test_filegates_own_store_runs_no_jobs(
    fake: Fake, server: ServerProcess, key: str, c: httpx.Client
) -> None:
    stored = upload(sdk(server, key), deployment="filegate")
    body = {"model": "gpt-4o-mini", "training_file": stored, "custom_llm_provider": "filegate"}
    err = assert_error(c.post(JOBS, json=body), 400, param="custom_llm_provider")
    assert err["code"] == "no_fine_tuning_deployment"
    assert "filegate's own store runs no fine-tuning jobs" in err["message"]
    assert _creates(fake) == []


def test_body_and_query_routing_must_agree(c: httpx.Client, training: str) -> None:
    body = {"model": "gpt-4o-mini", "training_file": training, "custom_llm_provider": "openai"}
    r = c.post(JOBS, json=body, params={"custom_llm_provider": "azure"})
    assert_error(r, 400, param="custom_llm_provider", code="provider_mismatch")


def test_bad_metadata_is_a_400(fake: Fake, c: httpx.Client, training: str) -> None:
    body = {"model": "gpt-4o-mini", "training_file": training}
    many = {f"k{i}": "v" for i in range(17)}
    assert_error(c.post(JOBS, json={**body, "metadata": many}), 400, param="metadata")
    assert_error(c.post(JOBS, json={**body, "metadata": {"k" * 65: "v"}}), 400, param="metadata")
    assert_error(c.post(JOBS, json={**body, "metadata": {"k": "v" * 513}}), 400, param="metadata")
    assert _creates(fake) == []


def test_the_providers_refusal_reaches_the_sdk_and_leaves_no_job(
    fake: Fake, server: ServerProcess, key: str, c: httpx.Client, training: str
) -> None:
    client = sdk(server, key)
    with pytest.raises(openai.BadRequestError) as caught:
        client.fine_tuning.jobs.create(model="no-such-model", training_file=training)
    body = caught.value.body
    assert isinstance(body, dict) and body["param"] == "model"
    assert "no-such-model" in body["message"]
    # The provider's copy id never shows; filegate's does, where the provider named it.
    with pytest.raises(openai.BadRequestError) as caught:
        client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=training, suffix="s" * 65)
    assert caught.value.body["param"] == "suffix"  # type: ignore[index]
    _no_jobs(c)


@pytest.mark.parametrize(("status", "expected"), [(500, 502), (503, 502), (429, 429), (401, 401)])
def test_provider_failures_are_mapped_and_leave_no_job(
    fake: Fake, c: httpx.Client, training: str, status: int, expected: int
) -> None:
    fake.fault(op="ft_create", status=status, times=None)
    r = c.post(JOBS, json={"model": "gpt-4o-mini", "training_file": training})
    assert_error(r, expected)
    _no_jobs(c)


def test_a_provider_failure_on_retrieve_is_an_error_not_a_stale_answer(
    fake: Fake, server: ServerProcess, key: str, c: httpx.Client, training: str
) -> None:
    job = sdk(server, key).fine_tuning.jobs.create(model="gpt-4o-mini", training_file=training)
    fake.fault(op="ft_retrieve", status=500, times=None)
    assert_error(c.get(f"{JOBS}/{job.id}"), 502)
    # A listing shows what was last known instead.
    r = c.get(JOBS)
    assert r.status_code == 200 and [j["id"] for j in r.json()["data"]] == [job.id]


@pytest.mark.parametrize(
    "job_id", [MISSING_JOB, "ftjob-abc", "ftjob-" + "Z" * 5000, "batch_" + "0" * 26]
)
@pytest.mark.parametrize(
    ("method", "suffix"),
    [
        ("GET", ""),
        ("POST", "/cancel"),
        ("POST", "/pause"),
        ("POST", "/resume"),
        ("GET", "/events"),
        ("GET", "/checkpoints"),
    ],
)
def test_unknown_jobs_are_404s(
    fake: Fake, c: httpx.Client, job_id: str, method: str, suffix: str
) -> None:
    r = c.request(method, f"{JOBS}/{job_id}{suffix}")
    err = assert_error(r, 404, param="fine_tuning_job_id")
    assert len(err["message"]) < 300
    assert fake.requests(surface="openai") == []


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "101"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"after": "file-abc"}, "after"),
        ({"order": "asc"}, "order"),
        ({"metadata": "yes"}, "metadata"),
        ({"metadata": "null", "metadata[a]": "b"}, "metadata"),
    ],
)
def test_bad_list_parameters_are_400s(c: httpx.Client, params: dict[str, str], param: str) -> None:
    assert_error(c.get(JOBS, params=params), 400, param=param)


@pytest.mark.parametrize("what", ["events", "checkpoints"])
@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"limit": "0"}, "limit"),
        ({"after": ""}, "after"),
        # The document's pattern: printable ASCII, at most 256 characters.
        ({"after": "ftevent-\u00e9"}, "after"),
        ({"after": "ftevent-\x01"}, "after"),
        ({"after": "x" * 257}, "after"),
        ({"bogus": "1"}, "bogus"),
    ],
)
def test_bad_sub_list_parameters_are_400s(
    server: ServerProcess, key: str, c: httpx.Client, training: str,
    what: str, params: dict[str, str], param: str,
) -> None:  # fmt: skip
    job = sdk(server, key).fine_tuning.jobs.create(model="gpt-4o-mini", training_file=training)
    assert_error(c.get(f"{JOBS}/{job.id}/{what}", params=params), 400, param=param)


def test_list_filters_by_metadata(server: ServerProcess, key: str, c: httpx.Client) -> None:
    client = sdk(server, key)
    training = upload(client)
    a = client.fine_tuning.jobs.create(
        model="gpt-4o-mini", training_file=training, metadata={"team": "a", "tier": "1"}
    )
    b = client.fine_tuning.jobs.create(
        model="gpt-4o-mini", training_file=training, metadata={"team": "b", "tier": "1"}
    )
    plain = client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=training)

    def ids(**params: str) -> list[str]:
        r = c.get(JOBS, params=params)
        assert r.status_code == 200, r.text
        return [j["id"] for j in r.json()["data"]]

    assert ids() == [plain.id, b.id, a.id]
    assert ids(**{"metadata[tier]": "1"}) == [b.id, a.id]
    assert ids(**{"metadata[tier]": "1", "metadata[team]": "a"}) == [a.id]
    assert ids(**{"metadata[team]": "c"}) == []
    assert ids(metadata="null") == [plain.id]
    # The SDK sends metadata as metadata[k]=v.
    assert [j.id for j in client.fine_tuning.jobs.list(metadata={"team": "b"})] == [b.id]
    first = client.fine_tuning.jobs.list(limit=2)
    assert [j.id for j in first.data] == [plain.id, b.id] and first.has_more
    rest = client.fine_tuning.jobs.list(limit=2, after=b.id)
    assert [j.id for j in rest.data] == [a.id] and not rest.has_more
