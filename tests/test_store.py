"""The state store on a real SQLite file: ops, history, live groups, migrations, kill -9, a
corrupt file, a lock held by another process."""

from __future__ import annotations

import contextlib
import os
import random
import selectors
import signal
import sqlite3
import stat
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from supervisord_lite import store as store_module
from supervisord_lite.errors import RecordsUnwritten, StoreCorrupt, StoreError, StoreUnavailable
from supervisord_lite.store import MIGRATIONS, SCHEMA_VERSION, Store
from supervisord_lite.store_file import move_aside
from supervisord_lite.store_records import (
    EventRecorded,
    HistoryEntry,
    IntentRecorded,
    LiveGroup,
    Outcome,
    RunEnded,
    RunStarted,
    ScheduleFired,
    StoreOp,
)
from supervisord_lite.vocabulary import Want

if TYPE_CHECKING:
    from collections.abc import Iterator

ROOT = Path(__file__).resolve().parent.parent
STORE_WRITER = Path(__file__).resolve().parent / "programs" / "store_writer.py"
HOLD_DB_LOCK = Path(__file__).resolve().parent / "programs" / "hold_db_lock.py"


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "supervisor.db"


@pytest.fixture
def store(db_path: Path) -> Iterator[Store]:
    with Store.open(db_path) as opened:
        yield opened


def started(run_id: int, program: str = "web", at: float = 100.0) -> RunStarted:
    return RunStarted(run_id=run_id, program=program, pid=1000 + run_id, pgid=1000 + run_id, at=at)


def ended(run_id: int, program: str = "web", outcome: Outcome = Outcome.COMPLETED) -> RunEnded:
    return RunEnded(run_id=run_id, program=program, outcome=outcome, at=200.0, exit_code=0)


def user_version(path: Path) -> int:
    raw = sqlite3.connect(path)
    try:
        version: int = raw.execute("PRAGMA user_version").fetchone()[0]
    finally:
        raw.close()
    return version


def test_open_creates_private_folder_and_file_in_wal_mode(db_path: Path) -> None:
    with Store.open(db_path) as opened:
        assert opened.path == db_path
        assert opened.integrity_check() == "ok"
    assert stat.S_IMODE(db_path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(db_path.stat().st_mode) == 0o600
    raw = sqlite3.connect(db_path)
    try:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    finally:
        raw.close()


def test_open_refuses_a_file_that_is_not_a_database(tmp_path: Path) -> None:
    bogus = tmp_path / "not.db"
    bogus.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreCorrupt, match=str(bogus)) as info:
        Store.open(bogus)
    assert "--reset-store" in str(info.value)


def test_open_reports_an_unusable_folder(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(StoreError, match="cannot open") as info:
        Store.open(blocker / "state.db")
    assert str(blocker) in str(info.value)
    assert isinstance(info.value.__cause__, OSError)


def test_run_started_round_trip(store: Store) -> None:
    store.apply(
        [RunStarted(run_id=1, program="web", pid=4242, pgid=4242, at=10.5, start_time=9.25)]
    )
    assert store.live_groups() == [
        LiveGroup(run_id=1, program="web", pid=4242, pgid=4242, start_time=9.25, started_at=10.5)
    ]
    (entry,) = store.history("web")
    assert entry == HistoryEntry(
        id=entry.id,
        at=10.5,
        program="web",
        kind="spawned",
        run_id=1,
        pid=4242,
        pgid=4242,
        exit_code=None,
        exit_signal=None,
        outcome=None,
        reason="",
    )


def test_event_recorded_round_trip(store: Store) -> None:
    store.apply(
        [
            EventRecorded(
                program="worker",
                kind="spawn_failed",
                at=12.0,
                run_id=7,
                pid=55,
                pgid=56,
                exit_code=3,
                exit_signal="SIGTERM",
                reason="no such file: /bin/nope",
            ),
            EventRecorded(program="worker", kind="fatal", at=13.0),
        ]
    )
    first, second = store.history("worker")
    assert first == HistoryEntry(
        id=first.id,
        at=12.0,
        program="worker",
        kind="spawn_failed",
        run_id=7,
        pid=55,
        pgid=56,
        exit_code=3,
        exit_signal="SIGTERM",
        outcome=None,
        reason="no such file: /bin/nope",
    )
    assert (second.kind, second.run_id, second.pid, second.reason) == ("fatal", None, None, "")
    assert store.live_groups() == []


@pytest.mark.parametrize("outcome", list(Outcome))
def test_run_ended_round_trip(store: Store, outcome: Outcome) -> None:
    store.apply([started(3)])
    store.apply(
        [
            RunEnded(
                run_id=3,
                program="web",
                outcome=outcome,
                at=30.0,
                exit_code=None,
                exit_signal="SIGKILL",
                reason="stop timeout",
            )
        ]
    )
    assert store.live_groups() == []
    spawned, terminal = store.history("web")
    assert spawned.kind == "spawned"
    assert terminal == HistoryEntry(
        id=terminal.id,
        at=30.0,
        program="web",
        kind=outcome.value,
        run_id=3,
        pid=1003,
        pgid=1003,
        exit_code=None,
        exit_signal="SIGKILL",
        outcome=outcome,
        reason="stop timeout",
    )
    assert isinstance(terminal.outcome, Outcome)


def test_start_and_end_in_one_batch(store: Store) -> None:
    store.apply([started(1), EventRecorded(program="web", kind="ready", at=1.0), ended(1)])
    assert [e.kind for e in store.history("web")] == ["spawned", "ready", "completed"]
    assert store.live_groups() == []


def test_empty_batch_is_a_no_op(store: Store) -> None:
    store.apply([])
    assert store.history(None) == []


def test_live_groups_before_and_after_run_ended(store: Store) -> None:
    store.apply([started(1, "web"), started(2, "worker"), started(3, "web")])
    assert [g.run_id for g in store.live_groups()] == [1, 2, 3]
    store.apply([ended(2, "worker", Outcome.FAILED)])
    assert [(g.run_id, g.program) for g in store.live_groups()] == [(1, "web"), (3, "web")]
    store.apply([ended(1, "web", Outcome.STOPPED), ended(3, "web", Outcome.KILLED)])
    assert store.live_groups() == []


def test_history_order_limit_and_program_filter(store: Store) -> None:
    ops: list[StoreOp] = [
        EventRecorded(program="web" if i % 2 else "worker", kind=f"k{i}", at=float(i))
        for i in range(10)
    ]
    store.apply(ops[:5])
    store.apply(ops[5:])
    assert [e.kind for e in store.history(None, limit=100)] == [f"k{i}" for i in range(10)]
    assert [e.kind for e in store.history(None, limit=3)] == ["k7", "k8", "k9"]
    assert [e.kind for e in store.history("web")] == ["k1", "k3", "k5", "k7", "k9"]
    assert [e.kind for e in store.history("web", limit=2)] == ["k7", "k9"]
    assert [e.kind for e in store.history("worker", limit=1)] == ["k8"]
    assert store.history("nobody") == []
    assert store.history(None, limit=0) == []
    ids = [e.id for e in store.history(None, limit=100)]
    assert ids == sorted(ids)
    with pytest.raises(ValueError, match="limit"):
        store.history(None, limit=-1)


def test_history_default_limit_is_twenty(store: Store) -> None:
    store.apply([EventRecorded(program="web", kind="tick", at=float(i)) for i in range(30)])
    entries = store.history("web")
    assert len(entries) == 20
    assert entries[0].at == 10.0
    assert entries[-1].at == 29.0


def test_a_run_ends_exactly_once(store: Store) -> None:
    store.apply([started(1)])
    store.apply([ended(1)])
    with pytest.raises(StoreError, match="already ended"):
        store.apply([ended(1, outcome=Outcome.KILLED)])
    terminal = [e for e in store.history("web") if e.outcome is not None]
    assert [e.outcome for e in terminal] == [Outcome.COMPLETED]


def test_a_failed_batch_writes_nothing(store: Store) -> None:
    store.apply([started(1)])
    batch: list[StoreOp] = [
        EventRecorded(program="web", kind="note", at=1.0),
        started(2),
        ended(1),
        ended(1, outcome=Outcome.LOST),
    ]
    with pytest.raises(StoreError, match="already ended"):
        store.apply(batch)
    assert [e.kind for e in store.history(None)] == ["spawned"]
    assert [g.run_id for g in store.live_groups()] == [1]
    store.apply([ended(1)])
    assert store.live_groups() == []


def test_sql_refuses_to_end_a_run_twice(store: Store, db_path: Path) -> None:
    store.apply([started(1), ended(1)])
    raw = sqlite3.connect(db_path)
    try:
        with pytest.raises(sqlite3.IntegrityError, match="already ended"):
            raw.execute("UPDATE runs SET outcome = 'lost', ended_at = 1.0 WHERE run_id = 1")
    finally:
        raw.close()


def test_ending_an_unknown_or_foreign_run_is_refused(store: Store) -> None:
    with pytest.raises(StoreError, match="no run 9"):
        store.apply([ended(9)])
    store.apply([started(1, "web")])
    with pytest.raises(StoreError, match="belongs to 'web'"):
        store.apply([ended(1, "worker")])
    assert [g.run_id for g in store.live_groups()] == [1]


def test_a_run_id_starts_only_once(store: Store) -> None:
    store.apply([started(1)])
    with pytest.raises(StoreError, match="run 1 already exists"):
        store.apply([started(1, "worker")])


@pytest.mark.parametrize("kind", ["spawned", *(o.value for o in Outcome)])
def test_terminal_and_spawn_kinds_are_reserved(store: Store, kind: str) -> None:
    with pytest.raises(StoreError, match="RunStarted/RunEnded"):
        store.apply([EventRecorded(program="web", kind=kind, at=1.0)])


def test_mark_lost(store: Store) -> None:
    store.apply([started(1, "web"), started(2, "worker"), started(3, "web")])
    store.mark_lost([1, 2], at=50.0, reason="daemon crashed; group gone")
    assert [g.run_id for g in store.live_groups()] == [3]
    lost = [e for e in store.history(None, limit=100) if e.kind == "lost"]
    assert [(e.run_id, e.program, e.outcome, e.at) for e in lost] == [
        (1, "web", Outcome.LOST, 50.0),
        (2, "worker", Outcome.LOST, 50.0),
    ]
    assert {e.reason for e in lost} == {"daemon crashed; group gone"}
    assert {e.pid for e in lost} == {1001, 1002}
    store.mark_lost([], at=1.0, reason="nothing")
    with pytest.raises(StoreError, match="already ended"):
        store.mark_lost([3, 1], at=60.0, reason="again")
    assert [g.run_id for g in store.live_groups()] == [3]
    with pytest.raises(StoreError, match="no run 99"):
        store.mark_lost([99], at=60.0, reason="unknown")


def test_allocate_run_id_continues_after_reopen(db_path: Path) -> None:
    with Store.open(db_path) as first:
        ids = [first.allocate_run_id() for _ in range(3)]
        assert ids == [1, 2, 3]
        first.apply([started(ids[0]), started(ids[2])])
    with Store.open(db_path) as second:
        assert second.allocate_run_id() == 4
        second.apply([started(10)])
        assert second.allocate_run_id() == 11


def test_history_and_live_groups_survive_reopen(db_path: Path) -> None:
    with Store.open(db_path) as first:
        first.apply([started(1), started(2), ended(1)])
        before = first.history(None)
    with Store.open(db_path) as second:
        assert second.history(None) == before
        assert [g.run_id for g in second.live_groups()] == [2]


def test_closed_store_refuses_calls(db_path: Path) -> None:
    opened = Store.open(db_path)
    opened.close()
    opened.close()
    with pytest.raises(StoreError, match="closed"):
        opened.apply([started(1)])
    with pytest.raises(StoreError, match="closed"):
        opened.history(None)


def test_usable_from_a_worker_thread(store: Store) -> None:
    errors: list[BaseException] = []

    def work() -> None:
        try:
            store.apply([started(1)])
        except BaseException as exc:  # noqa: BLE001 - reported to the main thread
            errors.append(exc)

    thread = threading.Thread(target=work)
    thread.start()
    thread.join(timeout=10)
    assert errors == []
    assert [g.run_id for g in store.live_groups()] == [1]


def test_migrates_a_version_zero_database(db_path: Path) -> None:
    db_path.parent.mkdir()
    raw = sqlite3.connect(db_path)
    raw.execute("CREATE TABLE unrelated (x)")
    raw.close()
    assert user_version(db_path) == 0
    with Store.open(db_path) as opened:
        opened.apply([started(1)])
    assert user_version(db_path) == SCHEMA_VERSION


def test_opens_a_current_database_without_touching_it(db_path: Path) -> None:
    with Store.open(db_path) as opened:
        opened.apply([started(1)])
    with Store.open(db_path) as reopened:
        assert [g.run_id for g in reopened.live_groups()] == [1]
    assert user_version(db_path) == SCHEMA_VERSION


def test_refuses_a_database_from_a_newer_version(db_path: Path) -> None:
    with Store.open(db_path):
        pass
    newer = SCHEMA_VERSION + 1
    raw = sqlite3.connect(db_path)
    raw.execute(f"PRAGMA user_version = {newer}")
    raw.close()
    with pytest.raises(StoreError) as info:
        Store.open(db_path)
    message = str(info.value)
    assert f"version {newer}" in message
    assert f"version {SCHEMA_VERSION}" in message
    assert str(db_path) in message
    assert user_version(db_path) == newer


def test_later_migrations_apply_in_order_to_an_existing_database(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Store.open(db_path) as opened:
        opened.apply([started(1)])
    extra = (
        ("CREATE TABLE notes (n INTEGER)", "INSERT INTO notes VALUES (1)"),
        ("INSERT INTO notes SELECT n + 1 FROM notes",),
    )
    monkeypatch.setattr(store_module, "MIGRATIONS", (*MIGRATIONS, *extra))
    with Store.open(db_path) as migrated:
        assert [g.run_id for g in migrated.live_groups()] == [1]
    assert user_version(db_path) == SCHEMA_VERSION + 2
    raw = sqlite3.connect(db_path)
    try:
        assert raw.execute("SELECT n FROM notes ORDER BY n").fetchall() == [(1,), (2,)]
    finally:
        raw.close()


def test_a_failing_migration_changes_nothing(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Store.open(db_path):
        pass
    broken = ("CREATE TABLE half (x)", "THIS IS NOT SQL")
    monkeypatch.setattr(store_module, "MIGRATIONS", (*MIGRATIONS, broken))
    with pytest.raises(StoreError, match=str(db_path)):
        Store.open(db_path)
    assert user_version(db_path) == SCHEMA_VERSION
    raw = sqlite3.connect(db_path)
    try:
        tables = {row[0] for row in raw.execute("SELECT name FROM sqlite_master")}
    finally:
        raw.close()
    assert "half" not in tables


def read_committed_ids(
    proc: subprocess.Popen[bytes], pending: bytearray, want: int, timeout: float, stderr: Path
) -> list[int]:
    """Read complete lines from the child until ``want`` ids arrived (or fail at ``timeout``)."""
    assert proc.stdout is not None
    ids: list[int] = []
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        while len(ids) < want:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                pytest.fail(
                    f"store writer reported {len(ids)} of {want} batches in time:"
                    f" {stderr.read_text()}"
                )
            if not selector.select(remaining):
                continue
            data = os.read(proc.stdout.fileno(), 65536)
            if not data:
                pytest.fail(
                    f"store writer exited early ({proc.wait(timeout=5)}): {stderr.read_text()}"
                )
            pending += data
            *lines, rest = pending.split(b"\n")
            pending[:] = rest
            ids.extend(int(line) for line in lines)
    return ids


def test_kill_9_mid_write_keeps_every_acknowledged_batch(tmp_path: Path) -> None:
    db_path = tmp_path / "state" / "crash.db"
    events_per_batch = 100
    reported: list[int] = []
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for round_number in range(4):
        stderr_path = tmp_path / f"writer-{round_number}.err"
        with stderr_path.open("wb") as stderr:
            proc = subprocess.Popen(
                [sys.executable, str(STORE_WRITER), str(db_path), str(events_per_batch)],
                stdout=subprocess.PIPE,
                stderr=stderr,
                env=env,
            )
        try:
            pending = bytearray()
            ids = read_committed_ids(
                proc, pending, want=20 + 7 * round_number, timeout=30, stderr=stderr_path
            )
            time.sleep(random.uniform(0, 0.005))
            os.kill(proc.pid, signal.SIGKILL)
            assert proc.wait(timeout=10) == -signal.SIGKILL
            assert proc.stdout is not None
            pending += proc.stdout.read()
            ids.extend(int(line) for line in pending.split(b"\n")[:-1])
        finally:
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
            if proc.stdout is not None:
                proc.stdout.close()
        assert ids == sorted(ids)
        assert not reported or ids[0] > reported[-1]
        reported.extend(ids)

        with Store.open(db_path) as reopened:
            assert reopened.integrity_check() == "ok"
            assert reopened.live_groups() == []
            kinds: dict[int, list[str]] = defaultdict(list)
            for entry in reopened.history(None, limit=1_000_000):
                assert entry.run_id is not None
                kinds[entry.run_id].append(entry.kind)
        complete = ["spawned", *["output"] * events_per_batch, "completed"]
        missing = [run_id for run_id in reported if kinds.get(run_id) != complete]
        assert missing == []
        torn = [run_id for run_id, seen in kinds.items() if seen != complete]
        assert torn == []


def _one_run(run_id: int, program: str = "web") -> list[StoreOp]:
    return [
        started(run_id, program),
        EventRecorded(program=program, kind="stop_requested", at=150.0, run_id=run_id),
        ended(run_id, program),
        EventRecorded(program=program, kind="backoff", at=210.0),
    ]


def test_retention_keeps_each_programs_newest_runs(db_path: Path) -> None:
    with Store.open(db_path, keep_runs=3) as store:
        for run_id in range(1, 6):
            store.apply(_one_run(run_id))
        store.apply(_one_run(6, "db"))
        entries = store.history("web", limit=1000)
        assert {e.run_id for e in entries} == {3, 4, 5, None}
        # Everything from the oldest kept run's start on, its run-less events included.
        assert [e.kind for e in entries[:4]] == [
            "spawned",
            "stop_requested",
            "completed",
            "backoff",
        ]
        assert entries[0].run_id == 3
        assert len(entries) == 12
        assert [e.run_id for e in store.history("db", limit=1000)] == [6, 6, 6, None]
        assert store.known_runs(range(1, 7)) == {3, 4, 5, 6}
        assert store.integrity_check() == "ok"


def test_retention_never_deletes_an_open_run(db_path: Path) -> None:
    with Store.open(db_path, keep_runs=2) as store:
        store.apply([started(1)])  # still running
        for run_id in range(2, 6):
            store.apply(_one_run(run_id))
        assert [g.run_id for g in store.live_groups()] == [1]
        entries = store.history("web", limit=1000)
        assert [e.kind for e in entries if e.run_id == 1] == ["spawned"]
        assert {e.run_id for e in entries} == {1, 4, 5, None}
        store.apply([ended(1)])  # it ends after all: now it is old enough to go
        assert {e.run_id for e in store.history("web", limit=1000)} == {4, 5, None}


def test_keep_runs_zero_keeps_everything(store: Store) -> None:
    assert store.keep_runs == 0
    for run_id in range(1, 30):
        store.apply(_one_run(run_id))
    assert len(store.history("web", limit=1000)) == 29 * 4
    with pytest.raises(ValueError, match="keep_runs"):
        Store.open(store.path, keep_runs=-1)


def test_a_version_one_database_gains_the_retention_indexes(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_module, "MIGRATIONS", MIGRATIONS[:1])
    with Store.open(db_path) as old:
        old.apply(_one_run(1))
    assert user_version(db_path) == 1
    monkeypatch.undo()
    with Store.open(db_path, keep_runs=1) as store:
        assert [e.kind for e in store.history("web")][:1] == ["spawned"]
        store.apply(_one_run(2))
        assert {e.run_id for e in store.history("web")} == {2, None}
    assert user_version(db_path) == SCHEMA_VERSION
    raw = sqlite3.connect(db_path)
    try:
        indexes = {row[0] for row in raw.execute("SELECT name FROM sqlite_master")}
    finally:
        raw.close()
    assert {"runs_program", "events_run"} <= indexes


# -- faults: a corrupt file, a lock held by another process ----------------------------------


def filled_database(path: Path, events: int = 2000) -> None:
    """A real store with ``events`` events, closed (so its WAL is checkpointed into the file)."""
    with Store.open(path) as filled:
        filled.apply(
            [
                EventRecorded(program=f"p{i % 7}", kind="note", at=float(i), reason="x" * 100)
                for i in range(events)
            ]
        )
    assert not Path(f"{path}-wal").exists()


def corrupt(path: Path, how: str) -> None:
    """Damage one b-tree page in the middle of the file, as a bad disk or a stray write would."""
    raw = sqlite3.connect(path)
    try:
        pages = raw.execute("PRAGMA page_count").fetchone()[0]
        page_size = raw.execute("PRAGMA page_size").fetchone()[0]
    finally:
        raw.close()
    page = pages // 2
    offset, data = {
        "cell pointers": (8, b"\x00\x07" * 4),  # every cell of the page points out of range
        "page header": (0, b"\x42" * 8),  # not a b-tree page type at all
    }[how]
    with path.open("r+b") as file:
        file.seek(page_size * (page - 1) + offset)
        file.write(data)


@pytest.mark.parametrize("how", ["cell pointers", "page header"])
def test_a_corrupt_database_is_refused_when_opened_and_left_untouched(
    db_path: Path, how: str
) -> None:
    filled_database(db_path)
    corrupt(db_path, how)
    before = db_path.read_bytes()
    with pytest.raises(StoreCorrupt) as info:
        Store.open(db_path)
    message = str(info.value)
    assert message.startswith(f"{db_path}: the state store is corrupt (")
    assert "--reset-store" in message
    assert "\n" not in message
    assert info.value.path == str(db_path)
    assert info.value.exit_code == 7
    assert db_path.read_bytes() == before
    assert not Path(f"{db_path}-wal").exists()


def test_move_aside_keeps_the_database_with_its_wal(tmp_path: Path) -> None:
    """A store left by a kill -9 has commits only in its WAL: moved aside together, the old
    file still holds every acknowledged batch, and a fresh store starts at the old path."""
    db_path = tmp_path / "state" / "crash.db"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    stderr_path = tmp_path / "writer.err"
    with stderr_path.open("wb") as stderr:
        proc = subprocess.Popen(
            [sys.executable, str(STORE_WRITER), str(db_path), "10"],
            stdout=subprocess.PIPE,
            stderr=stderr,
            env=env,
        )
    try:
        ids = read_committed_ids(proc, bytearray(), want=30, timeout=30, stderr=stderr_path)
    finally:
        proc.kill()
        proc.wait(timeout=10)
        assert proc.stdout is not None
        proc.stdout.close()
    assert Path(f"{db_path}-wal").stat().st_size > 0

    aside = move_aside(db_path, "20240102T030405")
    assert aside == db_path.with_name("crash.db.corrupt-20240102T030405")
    assert not db_path.exists()
    assert not Path(f"{db_path}-wal").exists()
    assert Path(f"{aside}-wal").exists()
    raw = sqlite3.connect(aside)
    try:
        kept = {row[0] for row in raw.execute("SELECT run_id FROM runs")}
    finally:
        raw.close()
    assert set(ids) <= kept

    with Store.open(db_path) as fresh:
        assert fresh.history(None) == []
    again = move_aside(db_path, "20240102T030405")  # the same second: nothing is overwritten
    assert again == db_path.with_name("crash.db.corrupt-20240102T030405.2")
    assert aside.exists()
    assert again.exists()


def test_move_aside_of_a_missing_database_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="cannot move the state store aside"):
        move_aside(tmp_path / "none.db", "20240102T030405")


@contextlib.contextmanager
def holding_lock(db: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Another process holds ``db``'s write lock (``BEGIN EXCLUSIVE``) for the block."""
    proc = subprocess.Popen(
        [sys.executable, str(HOLD_DB_LOCK), str(db)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == b"locked\n"
        yield proc
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            proc.wait(timeout=10)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
            if proc.stdout is not None:
                proc.stdout.close()


def test_a_held_lock_makes_writes_unavailable_and_reads_go_on(store: Store, db_path: Path) -> None:
    store.apply([started(1)])
    with holding_lock(db_path):
        with pytest.raises(StoreUnavailable, match="another process holds its lock") as info:
            store.apply([ended(1)])
        assert str(db_path) in str(info.value)
        assert [e.kind for e in store.history("web")] == ["spawned"]
    store.apply([ended(1)])
    assert [e.kind for e in store.history("web")] == ["spawned", "completed"]


def test_a_refused_record_is_not_taken_for_a_passing_failure(store: Store) -> None:
    with pytest.raises(StoreError, match="no run 9") as info:
        store.apply([ended(9)])
    assert not isinstance(info.value, StoreUnavailable | StoreCorrupt)


def test_the_store_exit_statuses_are_documented_and_not_restarted_by_systemd() -> None:
    table = (ROOT / "docs" / "install.md").read_text()
    rows = {
        cells[1].strip(): cells[2]
        for line in table.splitlines()
        if line.startswith("| ") and len(cells := line.split("|")) > 3
    }
    assert "records never reached the state store" in rows[str(RecordsUnwritten.exit_code)]
    assert "--reset-store" in rows[str(StoreCorrupt.exit_code)]
    unit = (ROOT / "packaging" / "supervisord-lite.service").read_text()
    (line,) = [x for x in unit.splitlines() if x.startswith("RestartPreventExitStatus=")]
    kept_down = line.split("=", 1)[1].split()
    assert str(RecordsUnwritten.exit_code) in kept_down
    assert str(StoreCorrupt.exit_code) in kept_down


def test_intents_and_schedule_runs_keep_the_latest_word_and_go_with_the_program(
    store: Store,
) -> None:
    store.apply(
        [
            IntentRecorded(program="web", want=Want.DOWN, at=1.0),
            IntentRecorded(program="web", want=Want.UP, at=2.0),
            IntentRecorded(program="job", want=Want.DOWN, at=3.0),
            ScheduleFired(program="job", at=4.0),
            ScheduleFired(program="job", at=5.0),
        ]
    )
    assert {(i.program, i.want, i.at) for i in store.intents().values()} == {
        ("web", Want.UP, 2.0),
        ("job", Want.DOWN, 3.0),
    }
    assert store.last_runs() == {"job": 5.0}
    store.apply([IntentRecorded(program="job", want=None, at=6.0)])
    assert set(store.intents()) == {"web"}
    assert store.last_runs() == {}


def test_a_version_two_database_gains_the_intent_tables(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_module, "MIGRATIONS", MIGRATIONS[:2])
    with Store.open(db_path) as old:
        old.apply(_one_run(1))
    monkeypatch.undo()
    with Store.open(db_path) as store:
        store.apply([IntentRecorded(program="web", want=Want.DOWN, at=1.0)])
        assert set(store.intents()) == {"web"}
        assert len(store.history("web")) == 4
    assert user_version(db_path) == SCHEMA_VERSION
