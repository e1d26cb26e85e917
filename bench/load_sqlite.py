"""Loads the benchmark data set into a migrated, empty SQLite database.

The same rows as sql/load_postgres.sql, stored the way the service stores them
on SQLite: the id as a 16-byte BLOB, booleans as 0/1, instants as epoch
milliseconds.

Usage: python3 load_sqlite.py DATABASE_FILE ROWS
"""

import hashlib
import sqlite3
import sys
import time
import uuid

TYPES = ["public", "telegram", "webhook", "viber", "whatsapp",
         "vk", "email", "sms", "slack", "messenger"]


def rows(count, now_ms):
    for n in range(1, count + 1):
        ct = now_ms - (count - n) * 1000
        yield (
            uuid.UUID(int=n).bytes,
            f"code-{n}",
            TYPES[n % 10],
            f"{n:032d}",
            hashlib.md5(f"remote{n}".encode()).hexdigest(),
            "",
            f"https://hooks.example.com/in/{n}",
            "ws_hook", "", "send_to_web", "",
            f"Point {n}",
            "",
            int(n % 2 == 0),
            int(n % 3 == 0),
            ct,
            ct,
            1,
        )


def main():
    path, count = sys.argv[1], int(sys.argv[2])
    db = sqlite3.connect(path)
    # The change feed's triggers stamp each change with unixepoch('subsec'),
    # which needs SQLite 3.42; Debian 12's python has 3.40, where it is NULL
    # and the insert fails. The data set is loaded as a restored database
    # would be, without a change per row, and the triggers put back after.
    triggers = db.execute(
        "SELECT name, sql FROM sqlite_master"
        " WHERE type = 'trigger' AND tbl_name = 'integration_points'"
    ).fetchall()
    with db:
        for name, _ in triggers:
            db.execute(f'DROP TRIGGER "{name}"')
        db.executemany(
            "INSERT INTO integration_points (id, code, type, token_local, token_remote,"
            " token_remote2, url, recv_svcscriptcode, recv_svcscriptcode_ws,"
            " send_svcscriptcode, send_svcscriptcode_ws, opts_title, opts_comment,"
            " opts_allow_files_api, opts_issync, ct, lwt, version)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows(count, int(time.time() * 1000)),
        )
        for _, sql in triggers:
            db.execute(sql)
    db.execute("ANALYZE")
    db.close()


if __name__ == "__main__":
    main()
