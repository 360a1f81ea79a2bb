"""Start-up: a bad setting stops the server with a message naming it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"FILEGATE_MAX_FILE_SIZE": "lots"}, "FILEGATE_MAX_FILE_SIZE"),
        ({"FILEGATE_SWEEP_INTERVAL": "-1"}, "FILEGATE_SWEEP_INTERVAL"),
        ({"FILEGATE_LOG_LEVEL": "loud"}, "FILEGATE_LOG_LEVEL"),
        ({"FILEGATE_DATABASE_URL": "mysql://db/files"}, "database_url"),
        ({"FILEGATE_STORAGE_URL": "ftp://bucket/files"}, "storage_url"),
    ],
)
def test_bad_setting_stops_start_up(
    server_factory: Callable[..., Any], env: dict[str, str], named: str
) -> None:
    srv = server_factory(env=env, wait=False)
    assert srv.proc.wait(timeout=60) != 0
    assert named in srv.log()
