"""Write batches to a state store as fast as possible until killed.

Usage: store_writer.py DB_PATH EVENTS_PER_BATCH

Each batch is one run: RunStarted, EVENTS_PER_BATCH EventRecorded, RunEnded, applied in one
transaction. After each commit the run id is printed on its own line and flushed, so every id
the parent reads names a batch the store acknowledged.
"""

from __future__ import annotations

import sys

from supervisord_lite.store import Store
from supervisord_lite.store_records import EventRecorded, Outcome, RunEnded, RunStarted, StoreOp


def main() -> None:
    db_path, events_per_batch = sys.argv[1], int(sys.argv[2])
    store = Store.open(db_path)
    while True:
        run_id = store.allocate_run_id()
        program = f"p{run_id % 3}"
        ops: list[StoreOp] = [
            RunStarted(run_id=run_id, program=program, pid=run_id, pgid=run_id, at=float(run_id))
        ]
        ops.extend(
            EventRecorded(
                program=program, kind="output", at=float(run_id), run_id=run_id, reason="x" * 200
            )
            for _ in range(events_per_batch)
        )
        ops.append(
            RunEnded(run_id=run_id, program=program, outcome=Outcome.COMPLETED, at=float(run_id))
        )
        store.apply(ops)
        sys.stdout.write(f"{run_id}\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
