"""Hold a SQLite database's write lock (``BEGIN EXCLUSIVE``) until stdin closes.

Usage: hold_db_lock.py DB_PATH

Prints ``locked`` once the lock is held, as another process (an ``sqlite3`` shell, a backup
tool) would hold it; rolls back and exits when its stdin reaches end of file.
"""

from __future__ import annotations

import sqlite3
import sys


def main() -> None:
    connection = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=10)
    connection.execute("BEGIN EXCLUSIVE")
    sys.stdout.write("locked\n")
    sys.stdout.flush()
    sys.stdin.read()
    connection.execute("ROLLBACK")
    connection.close()


if __name__ == "__main__":
    main()
