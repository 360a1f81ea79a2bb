import time

from filegate.core.ids import is_filegate_id, new_id


def test_ids_are_opaque_unique_and_time_sortable() -> None:
    before = int(time.time())
    made = [new_id() for _ in range(2000)]
    after = int(time.time())
    ids = [i for i, _ in made]
    assert len(set(ids)) == len(ids)
    assert all(is_filegate_id(i) for i in ids)
    assert all(before <= created <= after for _, created in made)
    # Sorting by id never puts a later second before an earlier one.
    by_id = sorted(made)
    assert [c for _, c in by_id] == sorted(c for _, c in made)


def test_foreign_ids_are_recognised() -> None:
    assert not is_filegate_id("file-abc123")
    assert not is_filegate_id("assistant-01M8A50GKNSC4M4X0VHXCTB59R")
    assert not is_filegate_id("file-01M8A50GKNSC4M4X0VHXCTB59R/../x")
