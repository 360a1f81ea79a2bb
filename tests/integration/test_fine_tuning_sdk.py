"""filegate's SDK fine-tuning functions (LiteLLM's names), straight at the fake's OpenAI and
Azure surfaces and through a filegate gateway (filegate ids end to end)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fine_tuning_support import HOLD, ft_server, only_upstream_job, sdk, training_data, upload
from tenants_support import make_key
from upstream_support import AZURE_KEY, CLASSIC_VERSION, OPENAI_KEY, Fake

import filegate
from tests.conftest import ServerProcess


@pytest.fixture(scope="module")
def server(fake: Fake, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    srv = ft_server(fake, tmp_path_factory.mktemp("fine-tuning-sdk"))
    yield srv
    srv.stop()


@pytest.fixture(autouse=True)
def _reset(fake: Fake) -> None:
    fake.reset()
    fake.config(**HOLD)


def test_straight_at_openai(fake: Fake) -> None:
    conn = {"api_key": OPENAI_KEY, "api_base": f"{fake.url}/v1"}
    made = filegate.create_file(("t.jsonl", training_data()), "fine-tune", **conn)
    job = filegate.create_fine_tuning_job(
        "gpt-4o-mini", made.id, {"n_epochs": 1}, "sdk", metadata={"via": "sdk"}, **conn
    )
    assert job.training_file == made.id and job.status == "validating_files"
    assert job.user_provided_suffix == "sdk" and job.metadata == {"via": "sdk"}
    fake.job(job.id, status="succeeded")
    done = filegate.retrieve_fine_tuning_job(job.id, **conn)
    assert done.status == "succeeded" and done.fine_tuned_model
    assert done.result_files == fake.job(job.id)["result_files"]
    page = filegate.list_fine_tuning_jobs(limit=5, **conn)
    assert [j.id for j in page.data] == [job.id] and page.has_more is False
    events = filegate.list_fine_tuning_events(job.id, limit=2, **conn)
    assert len(events["data"]) == 2 and events["has_more"] is True
    checkpoints = filegate.list_fine_tuning_checkpoints(job.id, **conn)
    assert checkpoints["data"] and checkpoints["data"][0]["fine_tuning_job_id"] == job.id
    with pytest.raises(filegate.InvalidRequest):
        filegate.cancel_fine_tuning_job(job.id, **conn)  # a finished job


async def test_straight_at_azure_dated_maps_states(fake: Fake) -> None:
    conn = {"api_key": AZURE_KEY, "api_base": fake.url, "api_version": CLASSIC_VERSION}
    fake.config(azure_require_processed_files=False)
    made = await filegate.acreate_file(
        ("t.jsonl", training_data()), "fine-tune", custom_llm_provider="azure", **conn
    )
    job = await filegate.acreate_fine_tuning_job(
        "gpt-4o-mini", made.id, custom_llm_provider="azure", **conn
    )
    assert job.status == "queued"  # Azure's "pending"
    assert job.hyperparameters == {
        "n_epochs": "auto",
        "batch_size": "auto",
        "learning_rate_multiplier": "auto",
    }  # -1 on the dated wire
    cancelled = await filegate.acancel_fine_tuning_job(job.id, "azure", **conn)
    assert cancelled.status == "cancelled"
    with pytest.raises(filegate.FileNotFound):
        await filegate.aretrieve_fine_tuning_job("ftjob-nope", "azure", **conn)


def test_through_a_gateway(fake: Fake, server: ServerProcess) -> None:
    key = make_key(server)[0]
    training = upload(sdk(server, key))
    conn = {"api_key": key, "api_base": f"{server.base_url}/v1"}
    job = filegate.create_fine_tuning_job(
        "gpt-4o-mini", training, custom_llm_provider="filegate", **conn
    )
    assert job.id.startswith("ftjob-") and job.training_file == training
    fake.job(only_upstream_job(fake)["id"], status="succeeded")
    done = filegate.retrieve_fine_tuning_job(job.id, "filegate", **conn)
    (result,) = done.result_files
    assert result.startswith("file-")
    content = filegate.file_content(result, custom_llm_provider="filegate", **conn)
    assert content.read().startswith(b"step,")
    page = filegate.list_fine_tuning_jobs(custom_llm_provider="filegate", **conn)
    assert [j.id for j in page.data] == [job.id]
    events = filegate.list_fine_tuning_events(
        job.id, limit=100, custom_llm_provider="filegate", **conn
    )
    assert job.id in " ".join(e["message"] for e in events["data"])


async def test_pages_walk_every_job_and_pause_resume_through_a_gateway(
    fake: Fake, server: ServerProcess
) -> None:
    key = make_key(server)[0]
    training = upload(sdk(server, key))
    conn = {"api_key": key, "api_base": f"{server.base_url}/v1", "custom_llm_provider": "filegate"}
    ids = [(await filegate.acreate_fine_tuning_job("gpt-4o-mini", training, **conn)).id]
    ids += [filegate.create_fine_tuning_job("gpt-4o-mini", training, **conn).id for _ in range(2)]
    page = await filegate.alist_fine_tuning_jobs(limit=1, **conn)
    assert [j.id for j in page.data] == [ids[2]] and page.has_more
    assert [j.id async for j in page] == ids[::-1]
    following = await page.anext_page()
    assert following is not None and [j.id for j in following.data] == [ids[1]]
    sync_page = filegate.list_fine_tuning_jobs(limit=2, **conn)
    assert [j.id for j in sync_page.auto_paging_iter()] == ids[::-1]

    for job in fake.jobs():
        fake.job(job["id"], status="running")
    paused = await filegate.apause_fine_tuning_job(ids[0], **conn)
    assert paused.id == ids[0] and paused.status == "paused"
    resumed = filegate.resume_fine_tuning_job(ids[0], **conn)
    assert resumed.status == "queued"
    with pytest.raises(filegate.InvalidRequest) as refused:
        filegate.resume_fine_tuning_job(ids[0], **conn)  # not paused now
    assert refused.value.param == "fine_tuning_job_id"


def test_pause_is_refused_before_sending_where_the_api_version_has_none(fake: Fake) -> None:
    conn = {"api_key": AZURE_KEY, "api_base": fake.url, "api_version": CLASSIC_VERSION}
    for action in (filegate.pause_fine_tuning_job, filegate.resume_fine_tuning_job):
        with pytest.raises(filegate.InvalidRequest) as refused:
            action("ftjob-abc", custom_llm_provider="azure", **conn)
        assert refused.value.code == "unsupported_provider"
    assert fake.requests() == []


def test_unknown_keyword_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        filegate.create_fine_tuning_job("m", "f", api_key="k", bogus=1)
