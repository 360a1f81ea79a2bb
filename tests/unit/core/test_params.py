import pytest

from filegate.core.params import (
    EXPIRES_MAX,
    EXPIRES_MIN,
    ExpiresAfter,
    parse_expires_after,
    parse_limit,
    parse_order,
    parse_purpose,
)
from filegate.errors import InvalidRequest
from filegate.records import PURPOSES


@pytest.mark.parametrize("purpose", PURPOSES)
def test_every_purpose_is_accepted(purpose: str) -> None:
    assert parse_purpose(purpose) == purpose


@pytest.mark.parametrize("value", [None, "", "finetune", "assistants_output", "BATCH"])
def test_bad_purpose_names_the_param(value: str | None) -> None:
    with pytest.raises(InvalidRequest) as info:
        parse_purpose(value)
    assert info.value.param == "purpose"


def test_expires_after_both_or_neither() -> None:
    assert parse_expires_after(None, None) is None
    assert parse_expires_after("created_at", "3600") == ExpiresAfter(3600)
    with pytest.raises(InvalidRequest) as info:
        parse_expires_after("created_at", None)
    assert info.value.param == "expires_after[seconds]"
    with pytest.raises(InvalidRequest) as info:
        parse_expires_after(None, "3600")
    assert info.value.param == "expires_after[anchor]"


@pytest.mark.parametrize(
    ("anchor", "seconds", "param"),
    [
        ("last_active_at", "3600", "expires_after[anchor]"),
        ("created_at", "soon", "expires_after[seconds]"),
        ("created_at", str(EXPIRES_MIN - 1), "expires_after[seconds]"),
        ("created_at", str(EXPIRES_MAX + 1), "expires_after[seconds]"),
    ],
)
def test_expires_after_rejections(anchor: str, seconds: str, param: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        parse_expires_after(anchor, seconds)
    assert info.value.param == param


def test_expires_after_bounds_are_inclusive() -> None:
    assert parse_expires_after("created_at", EXPIRES_MIN) == ExpiresAfter(EXPIRES_MIN)
    assert parse_expires_after("created_at", EXPIRES_MAX) == ExpiresAfter(EXPIRES_MAX)


def test_limit() -> None:
    assert parse_limit(None) == 10_000
    assert parse_limit("1") == 1
    assert parse_limit("10000") == 10_000
    for bad in ("0", "10001", "-1", "ten", "1.5"):
        with pytest.raises(InvalidRequest) as info:
            parse_limit(bad)
        assert info.value.param == "limit"


def test_order() -> None:
    assert parse_order(None) == "desc"
    assert parse_order("asc") == "asc"
    with pytest.raises(InvalidRequest) as info:
        parse_order("random")
    assert info.value.param == "order"
