"""The settings of the fake Vertex AI (``/__admin/config``; documented in ``vertex_ai``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.fakes.fault_rules import AdminError
from tests.fakes.vertex_jobs import RUNNING, STEP_STATES

_STEP = [{"state": "JOB_STATE_PENDING", "seconds": 0.05}, {"state": RUNNING, "seconds": 0.1}]


def default_config() -> dict[str, Any]:
    return {
        "tokens": ["vertex-token"],
        "token_prefixes": [],
        "projects": ["test-project"],
        "project_number": "123456789012",
        "auto_advance": True,
        "batch_states": [dict(s) for s in _STEP],
        "tuning_states": [dict(s) for s in _STEP],
        "cancel_seconds": 0.05,
        "line_seconds": 0.0,
        "flush_lines": 0,
        "output_order": "shuffled",
        "invalid_json_line": "fail_line",
        "delete_seconds": 0.0,
        "page_size": 100,
        "max_page_size": 1000,
        "max_active_batch_jobs": None,
        "publisher_models": None,
        "tuning_base_models": None,
        "tuning_min_examples": 1,
    }


def check_config(key: str, value: Any) -> None:
    def strings(v: Any) -> bool:
        return isinstance(v, list) and all(isinstance(s, str) for s in v)

    def number(v: Any) -> bool:
        return not isinstance(v, bool) and isinstance(v, int | float) and v >= 0

    ok: Callable[[Any], bool] | None = {
        "tokens": strings,
        "token_prefixes": strings,
        "projects": strings,
        "project_number": lambda v: isinstance(v, str) and v.isdigit(),
        "auto_advance": lambda v: isinstance(v, bool),
        "cancel_seconds": number,
        "line_seconds": number,
        "delete_seconds": number,
        "flush_lines": lambda v: isinstance(v, int) and v >= 0,
        "output_order": lambda v: v in ("shuffled", "input", "reversed"),
        "invalid_json_line": lambda v: v in ("fail_line", "fail_job"),
        "page_size": lambda v: isinstance(v, int) and v >= 1,
        "max_page_size": lambda v: isinstance(v, int) and v >= 1,
        "max_active_batch_jobs": lambda v: v is None or (isinstance(v, int) and v >= 0),
        "publisher_models": lambda v: v is None or strings(v),
        "tuning_base_models": lambda v: v is None or strings(v),
        "tuning_min_examples": lambda v: isinstance(v, int) and v >= 0,
    }.get(key)
    if key in ("batch_states", "tuning_states"):
        if not isinstance(value, list) or not all(
            isinstance(s, dict) and s.get("state") in STEP_STATES and number(s.get("seconds"))
            for s in value
        ):
            raise AdminError(
                f"{key} must be a list of {{state, seconds}} with {sorted(STEP_STATES)}"
            )
        if [s["state"] for s in value].count(RUNNING) != 1:
            raise AdminError(f"{key} must hold JOB_STATE_RUNNING exactly once")
        return
    if ok is None:
        raise AdminError(f"unknown config key {key!r}")
    if not ok(value):
        raise AdminError(f"bad value for {key}: {value!r}")
