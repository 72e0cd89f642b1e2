"""Benchmark: full-text document search (SPEC 8, issue 8 item 5).

Seeds a throw-away instance with DOCS documents of about SIZE bytes each (words drawn
from a Zipf-distributed vocabulary, so some words are in nearly every document and most
in few, as in real text), owned by USERS people in GROUPS groups, a tenth of them shared
with a group; then times searches of several kinds, as an administrator (every document
is searchable) and as an ordinary person (own documents plus those shared with their
groups), and prints the median and 99th percentile of each.

    .venv/bin/python bench/documents_search.py                 # 10,000 x 5 KB on SQLite
    .venv/bin/python bench/documents_search.py --database-url postgresql://postgres@127.0.0.1/postgres

Two timings per query: `service` is app.documents.service.search_documents (the SQL and
building the hits); `http` is GET /api/v1/documents/search through the Flask test client
(authentication, the query, JSON). The target is well under 100 ms on SQLite.
The database URL for PostgreSQL must name a server where a scratch database can be
created; it is dropped at the end.
"""
from __future__ import annotations

import argparse
import logging
import os
import random
import secrets
import shutil
import statistics
import sys
import tempfile
import time

from peewee import SqliteDatabase

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

SYLLABLES = ("ka ri to me na su lo pe vi da zen mor tal quen bri sho lu fa gel dor "
             "ul im ast per con ver tri hal num sel wex jor pil).").replace(").", "").split()


def make_vocabulary(rng: random.Random, n: int) -> list[str]:
    words: dict[str, None] = {}
    while len(words) < n:
        words["".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4)))] = None
    return list(words)


def make_text(rng: random.Random, vocabulary: list[str], cum_weights: list[float], size: int) -> str:
    words = rng.choices(vocabulary, cum_weights=cum_weights, k=size // 6)
    text = []
    length = 0
    for i, word in enumerate(words):
        text.append(word + (".\n" if i % 14 == 13 else " "))
        length += len(word) + 1
        if length >= size:
            break
    return "".join(text)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--docs", type=int, default=10_000)
    ap.add_argument("--size", type=int, default=5_000, help="bytes of text per document")
    ap.add_argument("--users", type=int, default=100)
    ap.add_argument("--groups", type=int, default=10)
    ap.add_argument("--vocabulary", type=int, default=30_000)
    ap.add_argument("--queries", type=int, default=60, help="queries timed per kind and person")
    ap.add_argument("--seed", type=int, default=8)
    ap.add_argument("--database-url", default=None, help="default: SQLite in a temporary folder")
    ap.add_argument("--keep", action="store_true", help="keep the seeded database (prints where)")
    args = ap.parse_args(argv)

    logging.getLogger("keystead").setLevel(logging.WARNING)
    from keystead import create_app

    tmp = tempfile.mkdtemp(prefix="keystead-bench-")
    pg_admin = pg_name = None
    if args.database_url:
        import psycopg2
        pg_name = "ks_bench_" + secrets.token_hex(4)
        pg_admin = psycopg2.connect(args.database_url)
        pg_admin.autocommit = True
        pg_admin.cursor().execute(f'CREATE DATABASE "{pg_name}"')
        url = args.database_url.rsplit("/", 1)[0] + "/" + pg_name
    else:
        url = f"sqlite:///{os.path.join(tmp, 'keystead.db')}"
    app = create_app({"Server.DatabaseURL": url, "Password.BcryptRounds": 4,
                      "Server.RateLimits": False}, instance_path=os.path.join(tmp, "instance"))
    db = app.extensions["keystead.db"]
    try:
        with app.app_context(), db.connection_context():
            plan = seed(db, args)
        # Requests run outside any app context of ours, as in a server: Flask would reuse
        # an outer app context (and its `g`, where the caller is cached) for every request.
        return measure(app, plan)
    finally:
        if hasattr(db, "close_all"):
            db.close_all()
        if args.keep:
            print(f"kept: {url}")
        else:
            if pg_admin is not None:
                pg_admin.cursor().execute(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')
            shutil.rmtree(tmp, ignore_errors=True)
        if pg_admin is not None:
            pg_admin.close()


def seed(db, args) -> dict:
    """Fill the database; return the queries to time and who times them."""
    from keystead.accounts import create_user
    from keystead.documents.models import Document, DocumentShare
    from keystead.models import Group, Membership
    from keystead.tokens import issue_token_pair

    rng = random.Random(args.seed)
    vocabulary = make_vocabulary(rng, args.vocabulary)
    weights = [1 / (rank + 1) for rank in range(len(vocabulary))]  # Zipf, s = 1
    cum, total = [], 0.0
    for w in weights:
        total += w
        cum.append(total)

    started = time.perf_counter()
    people = [create_user(f"person{i}", f"person{i}@example.com", None) for i in range(args.users)]
    admin = create_user("root", "root@example.com", None, role="administrator")
    groups = [Group.create(name=f"group{i}", name_key=f"group{i}") for i in range(args.groups)]
    for i, person in enumerate(people):
        for g in {groups[i % args.groups], groups[(i * 7 + 3) % args.groups]}:
            Membership.create(user=person.id, group=g.id)

    sizes = []
    batch = []
    with db.atomic():
        for i in range(args.docs):
            text = make_text(rng, vocabulary, cum, args.size)
            sizes.append(len(text.encode()))
            batch.append({"owner": people[i % args.users].id, "title": " ".join(text.split()[:4]).title(),
                          "filename": f"doc{i}.txt", "content_type": "text/plain",
                          "size": sizes[-1], "text": text})
            if len(batch) == 500:
                Document.insert_many(batch).execute()
                batch = []
        if batch:
            Document.insert_many(batch).execute()
        ids = [d.id for d in Document.select(Document.id)]
        shares = [{"document": doc_id, "group": rng.choice(groups).id}
                  for doc_id in rng.sample(ids, len(ids) // 10)]
        for k in range(0, len(shares), 500):
            DocumentShare.insert_many(shares[k:k + 500]).execute()
    if isinstance(db, SqliteDatabase):
        db.execute_sql("INSERT INTO document_fts(document_fts) VALUES ('optimize')")
    else:
        db.execute_sql("VACUUM ANALYZE")
    seeded = time.perf_counter() - started
    print(f"database: {type(db).__name__}; seeded {len(ids):,} documents (median "
          f"{statistics.median(sizes):,.0f} bytes, {sum(sizes) / 1e6:.1f} MB of text), "
          f"{len(shares):,} shares, {args.users} people in {args.groups} groups in {seeded:.1f} s")

    # Queries of several kinds, drawn from the vocabulary by frequency rank.
    def words(lo, hi, n):
        return [vocabulary[rng.randrange(lo, min(hi, len(vocabulary)))] for _ in range(n)]

    n = args.queries
    sample_texts = [d.text for d in Document.select(Document.text).order_by(Document.id).limit(200)]

    def phrase():
        tokens = rng.choice(sample_texts).replace(".", " ").split()
        k = rng.randrange(len(tokens) - 2)
        return f'"{tokens[k]} {tokens[k + 1]}"'

    kinds = {
        "common word (top 20, in most documents)": words(0, 20, n),
        "frequent word (rank 20-500)": words(20, 500, n),
        "rare word (rank 2,000+)": words(2000, len(vocabulary), n),
        "two words": [f"{a} {b}" for a, b in zip(words(0, 300, n), words(50, 3000, n))],
        "phrase": [phrase() for _ in range(n)],
        "prefix*": [w[:4] + "*" for w in words(0, 2000, n)],
    }
    return {"kinds": kinds, "callers": {"administrator": admin.id, "person": people[0].id},
            "tokens": {"administrator": issue_token_pair(admin)["access_token"],
                       "person": issue_token_pair(people[0])["access_token"]}}


def measure(app, plan: dict) -> int:
    from keystead.documents import service
    from keystead.models import User

    client = app.test_client()
    db = app.extensions["keystead.db"]
    all_service, all_http = [], []
    print(f"\n{'kind':42} {'caller':14} {'hits (median)':>13} {'service median':>15} {'p99':>8} "
          f"{'http median':>12} {'p99':>8}")
    for kind, queries in plan["kinds"].items():
        for who, user_id in plan["callers"].items():
            headers = {"Authorization": f"Bearer {plan['tokens'][who]}"}
            service_ms, http_ms, hits = [], [], []
            with app.app_context(), db.connection_context():
                caller = User.get_by_id(user_id)
                service.search_documents(caller, queries[0])  # warm
                for q in queries:
                    t0 = time.perf_counter()
                    found = service.search_documents(caller, q)
                    service_ms.append((time.perf_counter() - t0) * 1000)
                    hits.append(found.total)
            for q, expected in zip(queries, hits):
                t0 = time.perf_counter()
                r = client.get("/api/v1/documents/search", query_string={"q": q}, headers=headers)
                http_ms.append((time.perf_counter() - t0) * 1000)
                assert r.status_code == 200, r.get_data(as_text=True)
                assert r.get_json()["total"] == expected, (q, who, r.get_json()["total"], expected)
            all_service += service_ms
            all_http += http_ms
            print(f"{kind:42} {who:14} {statistics.median(hits):>13,.0f} "
                  f"{statistics.median(service_ms):>12.2f} ms {percentile(service_ms, 99):>5.2f} ms "
                  f"{statistics.median(http_ms):>9.2f} ms {percentile(http_ms, 99):>5.2f} ms")
    print(f"\nall {len(all_service)} searches: service median {statistics.median(all_service):.2f} ms, "
          f"p99 {percentile(all_service, 99):.2f} ms; http median {statistics.median(all_http):.2f} ms, "
          f"p99 {percentile(all_http, 99):.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
