"""server/request.py: the one check of unknown arguments and the JSON-number rule."""

from __future__ import annotations

import pytest

from filegate.errors import InvalidRequest
from filegate.server.request import integral, strict, unknown_argument


def test_an_allowed_name_passes_through() -> None:
    assert strict("limit", ("limit", "after")) == "limit"


@pytest.mark.parametrize(
    "name", ["custom_llm_provider", "model", "target_model_names", "litellm_metadata[team]"]
)
def test_routing_fields_pass_only_when_asked_for(name: str) -> None:
    assert strict(name, (), routing=True) == name
    with pytest.raises(InvalidRequest):
        strict(name, ())


def test_an_unknown_name_is_openais_error_and_is_cut_short() -> None:
    name = "x" * 500
    with pytest.raises(InvalidRequest) as caught:
        strict(name, ("data",))
    err = caught.value
    assert err.status_code == 400
    assert err.message == f"Unrecognized request argument supplied: {'x' * 64}"
    assert err.param == "x" * 64
    assert err.code == "unknown_parameter"


def test_the_error_alone_names_a_dotted_path() -> None:
    err = unknown_argument("hyperparameters.warmup")
    assert (err.message, err.param, err.code) == (
        "Unrecognized request argument supplied: hyperparameters.warmup",
        "hyperparameters.warmup",
        "unknown_parameter",
    )


def test_a_name_is_matched_exactly() -> None:
    for near in ("Data", "data ", "data\x00", "litellm_metadata_x"):
        with pytest.raises(InvalidRequest):
            strict(near, ("data",), routing=True)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(5.0, 5), (5, 5), (5.5, 5.5), ("5", "5"), (False, False), (None, None)],
)
def test_integral_turns_only_whole_floats_into_ints(value: object, expected: object) -> None:
    got = integral(value)
    assert got == expected and type(got) is type(expected)
