"""The default rate-limit storage: Keystead's own database (`database://`), so every worker
of a host, whatever WSGI server runs them, and every host on one PostgreSQL database
count each client address once.

One row per accepted request in `rate_limit_hit (bucket, expires)`: the moving window of
a bucket is its rows not yet expired, so the limit is exact (no doubled burst at a window
edge). A check is one short transaction of its own, taken before the view runs: on SQLite
`BEGIN IMMEDIATE` (writers queue for a few statements), on PostgreSQL an advisory lock on
the bucket alone. Refused requests add no row; expired rows are swept at most once a
minute per process. It runs on the limited paths only (POST, and GET /api/v1/auth/challenge).
The sign-up challenge (app/signup/challenge.py) keeps its spent challenges in the same table,
as buckets named `keystead-challenge/<signature>` that accept one entry.
"""
from __future__ import annotations

import hashlib
import time
from contextlib import contextmanager

from limits.storage import MovingWindowSupport, Storage
from peewee import DatabaseError, InterfaceError, PostgresqlDatabase, SqliteDatabase

TABLE = "rate_limit_hit"
SWEEP_INTERVAL = 60  # seconds between two sweeps of expired rows, per process


class DatabaseStorage(Storage, MovingWindowSupport):
    """A `limits` storage on a peewee database, given as the `database` option."""

    STORAGE_SCHEME = ["database"]

    def __init__(self, uri: str, database=None, wrap_exceptions: bool = False, **options):
        if database is None:
            raise ValueError("database:// needs the database option (the app's peewee database)")
        super().__init__(uri, wrap_exceptions=wrap_exceptions)
        self.db = database
        p = database.param
        self._count = f"SELECT COUNT(*), MIN(expires) FROM {TABLE} WHERE bucket = {p} AND expires > {p}"
        self._insert = f"INSERT INTO {TABLE} (bucket, expires) VALUES ({p}, {p})"
        self._next_sweep = 0.0

    @property
    def base_exceptions(self):
        return (DatabaseError, InterfaceError)

    # ---- the moving window (what the limiter uses)

    def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        if amount > limit:
            return False
        now = time.time()
        with self._locked(key):
            count, _ = self.db.execute_sql(self._count, (key, now)).fetchone()
            accepted = count + amount <= limit
            if accepted:
                for _ in range(amount):
                    self.db.execute_sql(self._insert, (key, now + expiry))
        if now >= self._next_sweep:
            self._sweep(now)
        return accepted

    def get_moving_window(self, key: str, limit: int, expiry: int) -> tuple[float, int]:
        now = time.time()
        count, oldest_expires = self.db.execute_sql(self._count, (key, now)).fetchone()
        if not count:
            return now, 0
        return oldest_expires - expiry, count

    @contextmanager
    def _locked(self, key: str):
        """A transaction that holds the bucket until commit; nothing else runs in it: on
        SQLite the write lock, on PostgreSQL an advisory lock on this bucket alone, so two
        workers cannot both count 59 and both add the 60th."""
        if isinstance(self.db, SqliteDatabase):
            with self.db.atomic("IMMEDIATE"):
                yield
            return
        with self.db.atomic():
            if isinstance(self.db, PostgresqlDatabase):
                self.db.execute_sql("SELECT pg_advisory_xact_lock(%s)", (_lock_number(key),))
            yield

    def _sweep(self, now: float) -> None:
        self._next_sweep = now + SWEEP_INTERVAL
        with self.db.atomic():
            self.db.execute_sql(f"DELETE FROM {TABLE} WHERE expires <= {self.db.param}", (now,))

    # ---- the rest of the Storage interface

    def check(self) -> bool:
        try:
            self.db.execute_sql("SELECT 1").fetchone()
            return True
        except Exception:  # any driver failure means "not answering"
            return False

    def reset(self) -> int | None:
        with self.db.atomic():
            return self.db.execute_sql(f"DELETE FROM {TABLE}").rowcount

    def clear(self, key: str) -> None:
        with self.db.atomic():
            self.db.execute_sql(f"DELETE FROM {TABLE} WHERE bucket = {self.db.param}", (key,))

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        raise NotImplementedError("database:// supports the moving-window strategy only")

    def get(self, key: str) -> int:
        return self.get_moving_window(key, 0, 0)[1]

    def get_expiry(self, key: str) -> float:
        raise NotImplementedError("database:// supports the moving-window strategy only")


def _lock_number(key: str) -> int:
    """A signed 64-bit number for pg_advisory_xact_lock, from the bucket's name."""
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big", signed=True)

