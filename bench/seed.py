"""Seeding the targets' databases fast, before their servers start.

Keystead: `python -m bench.seed keystead --count N` with KEYSTEAD_INSTANCE and the other
KEYSTEAD_* settings in the environment builds the app once (so the schema is migrated and
the Bootstrap administrator exists), then inserts N people with the project's own models:
`insert_many` in batches inside one transaction, one password hash computed once with the
project's hashing at the bench cost, and the *_key columns made with
`app.accounts.normalise`, exactly as the service functions make them.

Flask-Security-Too: `python -m bench.seed fst --count N` (BENCH_FST_DB) creates its schema
and accounts the same way (bench/targets/fst.py).

People are person1..personN (email personI@example.com), all with the password given.
"""
from __future__ import annotations

import argparse
import time

FIRST = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Radia",
         "Tim", "Margaret", "Dennis", "Leslie", "Niklaus", "Shafi", "John"]
LAST = ["Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson",
        "Perlman", "Berners-Lee", "Hamilton", "Ritchie", "Lamport", "Wirth", "Goldwasser", "Backus"]
BATCH = 1000  # rows per INSERT: well under SQLite's limit on bound variables


def seed_keystead(count: int, password: str, app=None) -> None:
    """Insert person1..personN into `app`'s database (by default the app that KEYSTEAD_*
    in the environment describe)."""
    from peewee import SqliteDatabase, chunked

    from keystead import create_app
    from keystead.accounts import normalise
    from keystead.models import User, database, utcnow
    from keystead.passwords import hash_password

    app = app or create_app()  # instance and settings from KEYSTEAD_* in the environment
    with app.app_context():
        rounds = app.extensions["keystead.settings"]["Password.BcryptRounds"]
        hashed = hash_password(password, rounds)
        now = utcnow()

        def rows():
            for i in range(1, count + 1):
                username, email = f"person{i}", f"person{i}@example.com"
                yield {"username": username, "username_key": normalise(username),
                       "email": email, "email_key": normalise(email),
                       "first_name": FIRST[i % len(FIRST)], "last_name": LAST[(i // 7) % len(LAST)],
                       "password_hash": hashed, "role": "viewer", "email_verified": True,
                       "provider": "password", "created_at": now}

        database.connect(reuse_if_open=True)
        with database.atomic():
            for batch in chunked(rows(), BATCH):
                User.insert_many(batch).execute()
        if isinstance(database.obj, SqliteDatabase):
            database.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")  # start from a compact file
        database.close()


def seed_fst(count: int, password: str) -> None:
    from bench.targets import fst
    fst.seed(count, password)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("target", choices=("keystead", "fst"))
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--password", required=True)
    args = parser.parse_args()
    started = time.perf_counter()
    (seed_keystead if args.target == "keystead" else seed_fst)(args.count, args.password)
    print(f"seeded {args.count} accounts into {args.target} in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
