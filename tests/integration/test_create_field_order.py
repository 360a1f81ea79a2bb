"""POST /files with its fields in any order: each is checked once, when it is known.

Fields before the file part are resolved when it starts, before a byte of it is
read; fields after it once the body has ended, and what they change (the purpose,
the expiry, the target) is checked against the provider then. Either way a refused
create leaves nothing: no file, no upstream copy, no spooled bytes.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from support import Part as P
from support import assert_error, multipart
from upstream_support import ORG_B, Fake, client, config_kwargs, spool_files, wipe

from tests.conftest import ServerProcess, start_server

DATA = b"".join(b"line %05d, bound for a provider\n" % i for i in range(20_000))
FILE = P("file", DATA, filename="f.txt", content_type="text/plain")


@pytest.fixture(scope="module")
def gateway(fake: Fake, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    base = tmp_path_factory.mktemp("field-order")
    srv = start_server(base, **config_kwargs(base / "filegate.yaml", fake))
    yield srv
    srv.stop()


@pytest.fixture
def c(gateway: ServerProcess, fake: Fake) -> Iterator[httpx.Client]:
    with client(gateway) as cl:
        wipe(cl)
        fake.reset()
        yield cl


def post(c: httpx.Client, *parts: P, params: dict[str, str] | None = None) -> httpx.Response:
    body, ctype = multipart(parts)
    return c.post("/v1/files", content=body, headers={"Content-Type": ctype}, params=params)


def assert_nothing_left(c: httpx.Client, fake: Fake, gateway: ServerProcess) -> None:
    assert c.get("/v1/files").json()["data"] == []
    assert fake.files() == []
    assert spool_files(gateway) == []


# What a provider cannot honour: the same refusals whether the field that makes it
# so comes before the file part or after it.
REFUSED: list[tuple[list[P], str, str, str]] = [
    (
        [P("purpose", "user_data"), P("custom_llm_provider", "azure")],
        "purpose", "unsupported_purpose", "purpose-azure-refuses",
    ),
    (
        [P("purpose", "assistants"), P("custom_llm_provider", "azure"),
         P("expires_after[anchor]", "created_at"), P("expires_after[seconds]", "3600")],
        "expires_after[seconds]", "invalid_value", "expiry-azure-refuses",
    ),
    (
        [P("purpose", "user_data"), P("target_model_names", "openai,azure")],
        "purpose", "unsupported_purpose", "purpose-one-of-two-refuses",
    ),
]  # fmt: skip
# Each split of those fields around the file part: the last ``late`` of them after it.
SPLITS = [
    pytest.param(fields[: len(fields) - late], fields[len(fields) - late :], param, code,
                 id=f"{name}-{late}-after-file")
    for fields, param, code, name in REFUSED
    for late in range(len(fields) + 1)
]  # fmt: skip


@pytest.mark.parametrize(("before", "after", "param", "code"), SPLITS)
def test_what_a_provider_cannot_honour_is_refused_wherever_it_is_sent(
    c: httpx.Client,
    fake: Fake,
    gateway: ServerProcess,
    before: list[P],
    after: list[P],
    param: str,
    code: str,
) -> None:
    assert_error(post(c, *before, FILE, *after), 400, param=param, code=code)
    assert_nothing_left(c, fake, gateway)


def test_a_late_choice_of_target_is_honoured_and_the_guess_cleared(
    c: httpx.Client, fake: Fake, gateway: ServerProcess
) -> None:
    """The bytes start towards the default (OpenAI); a model named after the file
    sends them to the other OpenAI deployment instead, and only there."""
    r = post(c, P("purpose", "assistants"), FILE, P("model", "openai-b"))
    assert r.status_code == 200, r.text
    (kept,) = fake.files()
    assert kept["bytes"] == len(DATA)
    made = [e for e in fake.requests(op="create") if e["status"] in (200, 201)]
    assert [e["openai_organization"] for e in made] == [ORG_B]
    assert made[0]["file_id"] == kept["id"]
    assert c.get(f"/v1/files/{r.json()['id']}/content").content == DATA
    assert spool_files(gateway) == []


@pytest.mark.parametrize(
    ("parts", "param"),
    [
        # No file: the fields are still judged first, purpose before expiry before target.
        ([P("custom_llm_provider", "bedrock")], "purpose"),
        ([P("purpose", "assistants"), P("expires_after[seconds]", "1"),
          P("custom_llm_provider", "bedrock")], "expires_after[anchor]"),
        ([P("purpose", "assistants"), P("custom_llm_provider", "bedrock")],
         "custom_llm_provider"),
        ([P("purpose", "assistants")], "file"),
        # Before the file part: the target is judged before the expiry.
        ([P("purpose", "assistants"), P("expires_after[seconds]", "1"),
          P("custom_llm_provider", "bedrock"), FILE], "custom_llm_provider"),
        # After it: the expiry before the target, as with no file at all.
        ([P("purpose", "assistants"), FILE, P("expires_after[seconds]", "1"),
          P("custom_llm_provider", "bedrock")], "expires_after[anchor]"),
    ],
)  # fmt: skip
def test_which_mistake_is_named_first(
    c: httpx.Client, fake: Fake, gateway: ServerProcess, parts: list[P], param: str
) -> None:
    assert_error(post(c, *parts), 400, param=param)
    assert_nothing_left(c, fake, gateway)


def test_a_bad_query_choice_is_named_before_the_body_is_looked_at(
    c: httpx.Client, fake: Fake, gateway: ServerProcess
) -> None:
    resp = c.post(
        "/v1/files",
        params={"custom_llm_provider": "bedrock"},
        content=b"not a form",
        headers={"Content-Type": "text/plain"},
    )
    assert_error(resp, 400, param="custom_llm_provider")
    # A form field may choose another target than the query does.
    ok = post(c, P("purpose", "assistants"), P("custom_llm_provider", "filegate"), FILE,
              params={"custom_llm_provider": "openai"})  # fmt: skip
    assert ok.status_code == 200, ok.text
    assert fake.files() == []
    assert c.delete(f"/v1/files/{ok.json()['id']}").status_code == 200
    assert_nothing_left(c, fake, gateway)
