"""Integration tests: real `filegate serve` processes driven over HTTP.

The shared fixtures (`server`, `server_factory`, `http`) live in tests/conftest.py;
helpers shared by these modules live in `support.py` next to this file.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

# --import-mode=importlib keeps test directories off sys.path; the helper module
# is imported by name, so put its folder there once.
_HERE = str(Path(__file__).parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Give each schemathesis operation its own node id.

    schemathesis names its items ``test_x[GET /v1/files]`` and sets the old
    ``_nodeid`` attribute to match, but pytest 9 reads a node's id from ``_id``,
    so every operation of a test function shares the bare function's id;
    pytest-xdist schedules by node id, so under ``-n`` all but one operation per
    function were silently dropped (2 of 103 ran). Rebuilding the id from the
    item's name makes them unique, and every case runs.
    """
    for item in items:
        if getattr(item, "operation_label", None) is None or item.nodeid.endswith("]"):
            continue
        parent_id = getattr(item.parent, "id", None)
        if parent_id is not None and hasattr(item, "_id"):
            item._id = parent_id.child(item.name)


@pytest.fixture(scope="module")
def fake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The fake OpenAI / Azure upstream (upstream_support.Fake), shared by a test module."""
    from upstream_support import running_fake

    with running_fake(tmp_path_factory.mktemp("fake-upstream")) as f:
        yield f


@pytest.fixture(scope="module")
def module_server_factory(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[..., Any]]:
    """Like `server_factory`, but its servers live as long as the test module."""
    # The root conftest is imported by pytest (as tests.conftest) before this one.
    from tests.conftest import start_server

    started: list[Any] = []

    def factory(**kwargs: Any) -> Any:
        srv = start_server(tmp_path_factory.mktemp("custom-server"), **kwargs)
        started.append(srv)
        return srv

    yield factory
    for srv in started:
        srv.stop()
