"""Benchmark: people search at 1,000,000 people on PostgreSQL (docs/performance.md).

    .venv-bench/bin/python -m bench.people_search_pg --database-url postgresql://postgres@127.0.0.1:54330/postgres
    make bench BENCH_POSTGRES_URL=postgresql://...     # bench/run.py runs it after the others

Creates a scratch database on that server (dropped at the end), builds the app against it
once (so every migration runs and the Bootstrap administrator exists), then loads PEOPLE
people with one `COPY ... FROM STDIN` (the columns of the User model; the *_key columns by
`app.accounts.normalise`, exactly as the service functions make them; the user triggers
off during the load and the people counter set once after it), fills the search
prefixes once (app/migrations/m0021_people_search_prefixes.py, as the triggers would have),
runs VACUUM ANALYZE (what autovacuum does to a table after such a load), and times people
searches of several kinds: prefixes of usernames, email addresses, first and last names,
rare and common, a first page and a later page, two words, one letter.

For each kind, QUERIES different searches; two timings each:
- `query`: app.accounts.search_users (the count, the page's ids, the page's rows);
- `request`: GET /api/v1/users?q=...&per_page=50 as an administrator through the Flask
  test client (authentication, the search, the JSON);
and the count's own time (the statements search_users uses for the total). p50 and p99.

Results go to bench/results/people_search_pg.json (read by bench/report.py).
"""
from __future__ import annotations

import argparse
import io
import json
import os
import random
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "people_search_pg.json"
ADMIN_USERNAME, ADMIN_PASSWORD = "admin", "bench-Admin-Password-42"
CHUNK = 50_000  # rows per COPY buffer

FIRST = ("Ada Grace Alan Edsger Barbara Donald Frances Ken Radia Tim Margaret Dennis Leslie "
         "Niklaus Shafi John Mary Maria Marc Martin Anna Anne Andrew Peter Paul Sarah Susan "
         "David Daniel Laura Linda Michael Michelle James Jane Robert Rosa Thomas Tobias "
         "Élodie Émile Zoë Łukasz Søren Ólafur Ingrid Jürgen Chloé Björn Noémie Yusuf Aiko "
         "Kenji Priya Arjun Wei Mei Olumide Amara Carlos Lucía").split()
SYLLABLES = "ka ri to me na su lo pe vi da zen mor tal quen bri sho lu fa gel dor ul im ast per con ver tri hal".split()
DOMAINS = ("example.com", "example.org", "mail.example.net", "corp.example", "uni.example.edu")

COPY_COLUMNS = ("username", "username_key", "email", "email_key", "first_name", "last_name",
                "password_hash", "role", "locked", "email_verified", "email_ever_verified",
                "provider", "session_epoch", "uniquifier", "created_at", "status", "fields", "metadata")


# ---------------------------------------------------------------- the people

def last_names(rng: random.Random, n: int = 4000) -> list[str]:
    names: dict[str, None] = {}
    while len(names) < n:
        names["".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 3))).capitalize()] = None
    return list(names)


def person(rng: random.Random, lasts: list[str], i: int) -> tuple[str, str, str, str]:
    """(username, email, first name, last name) of the i-th person: varied forms, unique."""
    first, last = rng.choice(FIRST), rng.choice(lasts)
    form = rng.randrange(4)
    if form == 0:
        handle = f"{first}.{last}"
    elif form == 1:
        handle = f"{first[0]}{last}"
    elif form == 2:
        handle = "".join(rng.choice(SYLLABLES) for _ in range(3))
    else:
        handle = f"{last}_{first}"
    username = f"{handle}{i}"
    local = handle if rng.random() < 0.7 else f"{first}.{last}"
    email = f"{local.lower()}{i}@{rng.choice(DOMAINS)}"
    return username, email, first, last


def _tsv(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def copy_people(db, count: int, password_hash: str, seed: int = 17) -> float:
    """Load `count` people with COPY; seconds taken (ANALYZE included)."""
    from keystead.accounts import normalise
    rng = random.Random(seed)
    lasts = last_names(rng)
    now = time.strftime("%Y-%m-%d %H:%M:%S")
    started = time.perf_counter()
    conn = db.connection()
    with db.atomic():
        cur = conn.cursor()
        # Row triggers would update the one-row people counter a million times: off during
        # the load, the counter set once after it (the administrator already recorded the
        # database as initialised).
        cur.execute('ALTER TABLE "user" DISABLE TRIGGER USER')
        sql = f'COPY "user" ({", ".join(COPY_COLUMNS)}) FROM STDIN'
        for start in range(1, count + 1, CHUNK):
            buf = io.StringIO()
            for i in range(start, min(start + CHUNK, count + 1)):
                username, email, first, last = person(rng, lasts, i)
                buf.write("\t".join(_tsv(v) for v in (
                    username, normalise(username), email, normalise(email), first, last, password_hash,
                    "viewer", "f", "t", "t", "password", "0", secrets.token_urlsafe(24), now,
                    "active", "{}", "{}")) + "\n")
            buf.seek(0)
            cur.copy_expert(sql, buf)
        cur.execute('ALTER TABLE "user" ENABLE TRIGGER USER')
        cur.execute('UPDATE people_count SET n = (SELECT count(*) FROM "user") WHERE id = 1')
    return time.perf_counter() - started


def fill_prefixes(db) -> float:
    """The search prefixes of the loaded people (their triggers were off), then VACUUM
    ANALYZE of both tables; seconds taken."""
    from keystead.migrations.m0021_people_search_prefixes import fill_search_prefixes
    started = time.perf_counter()
    with db.atomic():
        fill_search_prefixes(db)
    db.execute_sql('VACUUM ANALYZE "user"')
    db.execute_sql("VACUUM ANALYZE user_search_prefix")
    return time.perf_counter() - started


# ---------------------------------------------------------------- the searches

def query_kinds(rng: random.Random, sample: list[tuple], n: int) -> dict[str, list[tuple[str, int]]]:
    """Kind -> n (q, page) searches drawn from people who exist."""
    def pick():
        return rng.choice(sample)

    letters = "abcdefghijklmnopqrstuvwxyz"
    return {
        "username_rare": [(pick()[0][:rng.randint(5, 8)], 1) for _ in range(n)],
        "email_rare": [(pick()[1][:rng.randint(6, 10)], 1) for _ in range(n)],
        "first_name": [(pick()[2][:rng.randint(3, 5)].lower(), 1) for _ in range(n)],
        "last_name": [(pick()[3][:rng.randint(3, 5)], 1) for _ in range(n)],
        "two_words": [(f"{p[2][:3]} {p[3][:3]}", 1) for p in (pick() for _ in range(n))],
        "one_letter": [(rng.choice(letters), 1) for _ in range(n)],
        "common_page_10": [(pick()[2][:2], 10) for _ in range(n)],
    }


KIND_TITLES = {
    "username_rare": "username prefix, 5-8 characters",
    "email_rare": "email prefix, 6-10 characters",
    "first_name": "first-name prefix, 3-5 characters (common)",
    "last_name": "last-name prefix, 3-5 characters",
    "two_words": "two words, first and last name (\"gra hop\")",
    "one_letter": "one letter (the most matches)",
    "common_page_10": "two-letter first-name prefix, page 10",
}


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def summary(ms: list[float]) -> dict:
    return {"p50_ms": round(statistics.median(ms), 2), "p99_ms": round(pct(ms, 99), 2),
            "max_ms": round(max(ms), 2)}


def count(db, q: str) -> int:
    """What search_users runs for the total of `q` (on PostgreSQL, one or two statements)."""
    from keystead.accounts.queries import COUNT_CAP, _search_words
    from keystead.accounts.search_postgres import Search
    return Search(db, _search_words(q), None, COUNT_CAP).count()


def measure(app, db, kinds: dict, per_page: int = 50) -> dict:
    from keystead.accounts import search_users
    client = app.test_client()
    r = client.post("/api/v1/auth/login", json={"username": ADMIN_USERNAME, "password": ADMIN_PASSWORD})
    token = r.get_json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    out = {}
    for kind, searches in kinds.items():
        query_ms, request_ms, count_ms, totals, capped = [], [], [], [], 0
        # Warm the cache the way a running server would be, then measure.
        with app.app_context():
            for q, page in searches[:10]:
                search_users(q, page, per_page)
            for q, page in searches:
                t = time.perf_counter()
                rows, total = search_users(q, page, per_page)
                query_ms.append((time.perf_counter() - t) * 1000)
                totals.append(total)
                t = time.perf_counter()
                count(db, q)
                count_ms.append((time.perf_counter() - t) * 1000)
        for q, page in searches:
            t = time.perf_counter()
            r = client.get("/api/v1/users", query_string={"q": q, "page": page, "per_page": per_page},
                           headers=headers)
            request_ms.append((time.perf_counter() - t) * 1000)
            if r.status_code != 200:
                raise RuntimeError(f"GET /api/v1/users?q={q!r} answered {r.status_code}: {r.get_data(as_text=True)[:200]}")
            capped += bool(r.get_json().get("total_capped"))
        out[kind] = {"title": KIND_TITLES[kind], "searches": len(searches),
                     "query": summary(query_ms), "request": summary(request_ms),
                     "count": summary(count_ms),
                     "matches_median": int(statistics.median(totals)), "matches_max": max(totals),
                     "totals_capped": capped}
        print(f"  {kind:<16} query p50 {out[kind]['query']['p50_ms']:7.2f} p99 {out[kind]['query']['p99_ms']:7.2f}"
              f"  request p50 {out[kind]['request']['p50_ms']:7.2f} p99 {out[kind]['request']['p99_ms']:7.2f}"
              f"  count p50 {out[kind]['count']['p50_ms']:7.2f} p99 {out[kind]['count']['p99_ms']:7.2f}"
              f"  matches median {out[kind]['matches_median']:,} max {out[kind]['matches_max']:,}"
              f"  capped {capped}", flush=True)
    return out


def plans(db, examples: dict[str, tuple[str, int]], per_page: int = 50) -> dict[str, str]:
    """EXPLAIN ANALYZE of the statements of the count and of the page, per example."""
    from keystead.accounts.queries import COUNT_CAP, _search_words
    from keystead.accounts.search_postgres import Search
    out = {}
    for kind, (q, page) in examples.items():
        text = []
        search = Search(db, _search_words(q), None, COUNT_CAP)
        search.count()
        search.page_statement((page - 1) * per_page, per_page)
        for n, (sql, params) in enumerate(search.statements):
            label = "page" if n == len(search.statements) - 1 else "count"
            rows = db.execute_sql("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY ON) " + sql, params).fetchall()
            text.append(f"-- {label}: q={q!r} page {page}\n" + "\n".join(r[0] for r in rows))
        out[kind] = "\n".join(text)
    return out


# ---------------------------------------------------------------- sizes

def index_sizes(db) -> dict[str, str]:
    rows = db.execute_sql(
        "SELECT indexrelname, pg_size_pretty(pg_relation_size(indexrelid)) FROM pg_stat_user_indexes "
        "WHERE relname IN ('user', 'user_search_prefix') ORDER BY indexrelname").fetchall()
    rows.append(("user_search_prefix (table)", db.execute_sql(
        "SELECT pg_size_pretty(pg_relation_size('user_search_prefix'))").fetchone()[0]))
    return dict(rows)


# ---------------------------------------------------------------- main

def run(database_url: str, people: int, queries: int, keep: bool = False) -> dict:
    import psycopg2

    from keystead import create_app
    from keystead.passwords import hash_password

    name = "ks_bench_people_" + secrets.token_hex(4)
    admin = psycopg2.connect(database_url)
    admin.autocommit = True
    admin.cursor().execute(f'CREATE DATABASE "{name}"')
    url = database_url.rsplit("/", 1)[0] + "/" + name
    instance = tempfile.mkdtemp(prefix="keystead-bench-pg-")
    result = {"people": people, "queries_per_kind": queries,
              "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
              "cores": os.cpu_count(), "load_average_at_start": list(os.getloadavg())}
    try:
        app = create_app({"Server.DatabaseURL": url, "Password.BcryptRounds": 4,
                          "Server.RateLimits": False, "Password.LockoutThreshold": 0,
                          "Bootstrap.AdminUsername": ADMIN_USERNAME,
                          "Bootstrap.AdminPassword": ADMIN_PASSWORD}, instance_path=instance)
        db = app.extensions["keystead.db"]
        with app.app_context():
            db.connect(reuse_if_open=True)
            db.execute_sql("SET statement_timeout = 0")  # the load and VACUUM: minutes, not a request
            result["server"] = db.execute_sql("SHOW server_version").fetchone()[0]
            print(f"  loading {people:,} people with COPY into {name} ...", flush=True)
            result["seed_s"] = round(copy_people(db, people, hash_password("x", 4)), 1)
            print(f"  loaded in {result['seed_s']} s", flush=True)
            result["prefixes_s"] = round(fill_prefixes(db), 1)
            print(f"  search prefixes filled, VACUUM ANALYZE, in {result['prefixes_s']} s", flush=True)
            result["index_sizes"] = index_sizes(db)
            rng = random.Random(5)
            sample = [tuple(r) for r in db.execute_sql(
                'SELECT username_key, email_key, first_name, last_name FROM "user" '
                "TABLESAMPLE SYSTEM (1) REPEATABLE (5) LIMIT 5000").fetchall()]
            kinds = query_kinds(rng, sample, queries)
            result["plans"] = plans(db, {k: v[0] for k, v in kinds.items()})
            db.close()
        result["kinds"] = measure(app, db, kinds)
        db.close_all() if hasattr(db, "close_all") else db.close()
    finally:
        if keep:
            print(f"  kept the database {url}")
        else:
            admin.cursor().execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()
    result["finished_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    result["load_average_at_end"] = list(os.getloadavg())
    return result


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="bench.people_search_pg", description=__doc__.splitlines()[0])
    p.add_argument("--database-url", default=os.environ.get("BENCH_POSTGRES_URL", ""),
                   help="a PostgreSQL server where a scratch database may be created (BENCH_POSTGRES_URL)")
    p.add_argument("--people", type=int, default=1_000_000)
    p.add_argument("--queries", type=int, default=200, help="searches per kind (default 200)")
    p.add_argument("--keep", action="store_true", help="keep the scratch database")
    p.add_argument("--output", default=str(RESULTS))
    args = p.parse_args(argv)
    if not args.database_url.startswith("postgres"):
        p.error("--database-url (or BENCH_POSTGRES_URL) must name a PostgreSQL server")
    sys.path.insert(0, str(ROOT))
    result = run(args.database_url, args.people, args.queries, args.keep)
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
