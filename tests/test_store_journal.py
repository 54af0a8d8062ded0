"""The event log's tables on a real SQLite file: seqs only grow (across reopening, after every
row was pruned, after a batch rolled back), retention by count and by age runs in the write
transaction, readers' cursors never move back, and an older store gains the tables."""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING

import pytest

import supervisord_lite.store as store_module
from supervisord_lite.errors import StoreError
from supervisord_lite.store import MIGRATIONS, Store
from supervisord_lite.store_records import CursorMoved, EventLogged, Outcome, RunEnded

if TYPE_CHECKING:
    from pathlib import Path


def _events(first: int, count: int, *, at: float | None = None) -> list[EventLogged]:
    return [
        EventLogged(
            at=at if at is not None else float(i), kind="state", program="web", body=b"%d" % i
        )
        for i in range(first, first + count)
    ]


def test_seqs_only_grow_across_reopening_and_pruning(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with Store.open(path, keep_events=2) as store:
        written = store.apply(_events(0, 5))
        assert [row.seq for row in written] == [1, 2, 3, 4, 5]
        assert store.event_bounds() == (4, 5)
        assert [row.body for row in store.logged_events(0, 10)] == [b"3", b"4"]
    with Store.open(path) as store:
        sqlite = sqlite3.connect(path)
        sqlite.execute("DELETE FROM journal")  # every row gone, as a long retention would
        sqlite.commit()
        sqlite.close()
        assert [row.seq for row in store.apply(_events(5, 1))] == [6]


def test_a_batch_rolled_back_gives_no_seq(tmp_path: Path) -> None:
    with Store.open(tmp_path / "state.db") as store:
        store.apply(_events(0, 2))
        refused = RunEnded(run_id=99, program="web", outcome=Outcome.FAILED, at=1.0)
        with pytest.raises(StoreError):
            store.apply([*_events(2, 3), refused])
        assert store.event_bounds() == (1, 2)
        assert [row.seq for row in store.apply(_events(5, 1))] == [3]


def test_retention_by_age_is_judged_against_the_newest_event(tmp_path: Path) -> None:
    with Store.open(tmp_path / "state.db", keep_event_seconds=10.0) as store:
        store.apply(_events(0, 3, at=100.0))
        store.apply(_events(3, 2, at=105.0))
        assert store.event_bounds() == (1, 5)
        store.apply(_events(5, 1, at=112.0))  # 100 is now more than 10 s older
        assert store.event_bounds() == (4, 6)
        assert store.start_of_last(2) == 5
        assert store.start_of_last(50) == 4


def test_cursors_never_move_back(tmp_path: Path) -> None:
    with Store.open(tmp_path / "state.db") as store:
        assert store.cursor("ops") is None
        store.apply([CursorMoved(name="ops", seq=7)])
        store.apply([CursorMoved(name="ops", seq=3), CursorMoved(name="other", seq=1)])
        assert (store.cursor("ops"), store.cursor("other")) == (7, 1)


def test_a_version_two_database_gains_the_event_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "state.db"
    monkeypatch.setattr(store_module, "MIGRATIONS", MIGRATIONS[:2])
    Store.open(path).close()
    monkeypatch.undo()
    with Store.open(path) as store:
        assert [row.seq for row in store.apply(_events(0, 1))] == [1]
