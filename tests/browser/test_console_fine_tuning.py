"""The console's fine-tuning pages, in a real browser, against the fake upstream's jobs.

The gateway's ``openai`` deployment is the fake upstream (tests/fakes/upstream.py), as in
tests/integration/test_fine_tuning_*.py; jobs there move only when the test moves them.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Console
from tests.conftest import ServerProcess, start_server
from tests.integration.upstream_support import Fake, config_kwargs, running_fake

HOLD = {
    "ft_validating_files_seconds": None,
    "ft_queued_seconds": None,
    "ft_running_seconds": None,
}


@pytest.fixture(scope="module")
def fake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fake]:
    with running_fake(tmp_path_factory.mktemp("fake-upstream")) as f:
        yield f


@pytest.fixture(scope="module")
def server(fake: Fake, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    base = tmp_path_factory.mktemp("console-fine-tuning")
    kwargs = config_kwargs(base / "filegate.yaml", fake)
    # Every look asks the fake, so a job the test moves shows at the page's next poll.
    kwargs["env"]["FILEGATE_FINE_TUNING_CACHE_SECONDS"] = "0"
    srv = start_server(base, **kwargs)
    yield srv
    srv.stop()


@pytest.fixture(autouse=True)
def _reset(fake: Fake) -> None:
    fake.reset()
    fake.config(**HOLD)


def sdk(server: ServerProcess, key: str | None = None) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=f"{server.base_url}/v1",
        api_key=key or server.master_key,
        max_retries=0,
        timeout=60,
    )


def new_key(server: ServerProcess) -> str:
    """A fresh virtual key: its listings hold only what the test made with it."""
    with httpx.Client(base_url=server.base_url, headers=server.headers, timeout=60) as c:
        r = c.post("/key/generate", json={})
    assert r.status_code == 200, r.text
    return str(r.json()["key"])


def training(n: int = 10) -> bytes:
    lines = [
        {
            "messages": [
                {"role": "user", "content": f"question {i}"},
                {"role": "assistant", "content": f"answer {i}"},
            ]
        }
        for i in range(n)
    ]
    return b"".join(json.dumps(x).encode() + b"\n" for x in lines)


def upload(client: openai.OpenAI, name: str) -> str:
    made = client.files.create(
        file=(name, training()), purpose="fine-tune", extra_body={"model": "openai"}
    )
    return made.id


def only_upstream_job(fake: Fake) -> dict[str, Any]:
    (job,) = fake.jobs()
    return job


def shown_facts(console: Console) -> dict[str, str]:
    facts: dict[str, str] = console.page.locator("#view .facts").evaluate(
        """dl => Object.fromEntries([...dl.querySelectorAll("dt")]
            .map((dt) => [dt.textContent, dt.nextElementSibling.textContent]))"""
    )
    return facts


def test_create_from_a_file_follow_it_to_its_results(
    console: Console, server: ServerProcess, fake: Fake, tmp_path: Path
) -> None:
    client = sdk(server)
    train = upload(client, "train.jsonl")
    valid = upload(client, "valid.jsonl")
    console.sign_in()
    console.go(f"#/files/{train}")
    page = console.page
    # The training file lives at the openai deployment, and the page says so.
    assert shown_facts(console)["Stored at"] == "openai"
    page.get_by_role("link", name="Fine-tune on this file").click()
    form = page.locator("form", has=page.get_by_role("button", name="Create job"))
    expect(form.get_by_label("Training file (purpose fine-tune)")).to_have_value(train)
    # The suggestions fill in after the form shows: wait for them.
    expect(page.locator(f'#ft-files option[value="{valid}"]')).to_have_count(1)
    form.get_by_label("Base model").fill("gpt-4o-mini")
    form.get_by_label("Validation file (optional)").fill(valid)
    form.get_by_label("Suffix (optional)").fill("console")
    form.get_by_label("Epochs (optional)").fill("2")
    form.get_by_role("button", name="Create job").click()

    heading = page.locator("#view h1")
    expect(heading).to_have_text(re.compile(r"^Fine-tuning job ftjob-"))
    job_id = heading.inner_text().removeprefix("Fine-tuning job ")
    job = client.fine_tuning.jobs.retrieve(job_id)
    assert (job.training_file, job.validation_file) == (train, valid)
    assert job.user_provided_suffix == "console" and job.hyperparameters.n_epochs == 2
    upstream = only_upstream_job(fake)
    facts = shown_facts(console)
    assert facts["Status"] == "validating_files"
    assert (facts["Training file"], facts["Validation file"]) == (train, valid)
    assert facts["Result files"] == "none yet"
    expect(page.get_by_role("button", name="Cancel job")).to_be_visible()
    expect(page.get_by_role("button", name="Pause job")).to_be_hidden()

    # The page polls: a running job can be paused, and its events appear.
    fake.job(upstream["id"], status="running")
    expect(page.locator("#view .facts .status")).to_have_text("running", timeout=10_000)
    events = client.fine_tuning.jobs.list_events(job_id, limit=20).data
    shown = page.get_by_test_id("ft-events").locator("li")
    expect(shown.first).to_contain_text(events[0].message)
    pause = page.get_by_role("button", name="Pause job")
    pause.click()
    expect(page.locator("#view .facts .status")).to_have_text("paused")
    assert client.fine_tuning.jobs.retrieve(job_id).status == "paused"
    page.get_by_role("button", name="Resume job").click()
    expect(page.locator("#view .facts .status")).not_to_have_text("paused")
    assert client.fine_tuning.jobs.retrieve(job_id).status != "paused"

    fake.job(upstream["id"], status="succeeded")
    expect(page.locator("#view .facts .status")).to_have_text("succeeded", timeout=10_000)
    done = client.fine_tuning.jobs.retrieve(job_id)
    (result,) = done.result_files
    facts = shown_facts(console)
    assert facts["Fine-tuned model"] == done.fine_tuned_model
    assert facts["Result files"] == result
    expect(page.get_by_role("button", name="Cancel job")).to_be_hidden()
    newest = client.fine_tuning.jobs.list_events(job_id, limit=20).data
    expect(shown.first).to_have_text(re.compile(re.escape(newest[0].message)))

    page.locator("#view .facts").get_by_role("link", name=result).click()
    expect(page.locator("#view h1")).to_have_text(f"{job_id}_results.csv")
    with page.expect_download() as info:
        page.get_by_role("button", name="Download").click()
    saved = tmp_path / "results.csv"
    info.value.save_as(saved)
    expected = client.files.content(result).content
    assert hashlib.sha256(saved.read_bytes()).digest() == hashlib.sha256(expected).digest()

    console.go("#/fine-tuning")
    row = page.locator(f'[data-testid="ft-job-row"][data-job-id="{job_id}"]')
    expect(row.locator(".status")).to_have_text("succeeded")
    expect(row).to_contain_text(str(done.fine_tuned_model))


def test_cancel_a_job_and_page_the_list(
    console: Console, server: ServerProcess, fake: Fake
) -> None:
    key = new_key(server)
    client = sdk(server, key)
    train = upload(client, "cancel-me.jsonl")
    made = [
        client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=train).id
        for _ in range(21)
    ]
    console.sign_in(key)
    console.go("#/fine-tuning")
    page = console.page
    rows = page.get_by_test_id("ft-job-row")
    expect(rows).to_have_count(20)
    newest_first = list(reversed(made))
    assert [r.get_attribute("data-job-id") for r in rows.all()] == newest_first[:20]
    page.get_by_role("button", name="Next page").click()
    expect(rows).to_have_count(1)
    assert rows.first.get_attribute("data-job-id") == newest_first[20]

    rows.first.get_by_role("link", name=newest_first[20]).click()
    cancel = page.get_by_role("button", name="Cancel job")
    cancel.click()
    page.get_by_test_id("confirm-delete").click()
    expect(page.locator("#view .facts .status")).to_have_text("cancelled")
    expect(cancel).to_be_hidden()
    assert client.fine_tuning.jobs.retrieve(newest_first[20]).status == "cancelled"
    expect(page.get_by_test_id("ft-events").locator("li").first).to_contain_text("cancelled")


def test_refusals_show_the_api_message(console: Console, server: ServerProcess) -> None:
    client = sdk(server)
    train = upload(client, "refused.jsonl")
    with httpx.Client(base_url=server.base_url, headers=server.headers, timeout=60) as c:
        refused = c.post(
            "/v1/fine_tuning/jobs", json={"model": "not-a-model", "training_file": train}
        )
        missing = c.get("/v1/fine_tuning/jobs/ftjob-01AAAAAAAAAAAAAAAAAAAAAAAA")
    assert refused.status_code == 400 and missing.status_code == 404
    console.sign_in()
    console.go(f"#/fine-tuning/new?training={train}")
    page = console.page
    page.get_by_label("Base model").fill("not-a-model")
    page.get_by_role("button", name="Create job").click()
    assert console.error_text() == refused.json()["error"]["message"]
    console.go("#/fine-tuning/ftjob-01AAAAAAAAAAAAAAAAAAAAAAAA")
    expect(page.get_by_test_id("error-message")).to_have_text(missing.json()["error"]["message"])


@pytest.mark.parametrize("console", [{"viewport": {"width": 375, "height": 740}}], indirect=True)
def test_fine_tuning_pages_fit_a_phone(console: Console, server: ServerProcess, fake: Fake) -> None:
    client = sdk(server)
    job = client.fine_tuning.jobs.create(
        model="gpt-4o-mini", training_file=upload(client, "phone.jsonl"), suffix="phone"
    )
    fake.job(only_upstream_job(fake)["id"], status="succeeded")
    console.sign_in()
    page = console.page
    for fragment in ("#/fine-tuning", f"#/fine-tuning/{job.id}", "#/fine-tuning/new"):
        console.go(fragment)
        page.locator("#view h1").wait_for()
        page.wait_for_load_state("networkidle")
        width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert width[0] <= width[1], (fragment, width)
