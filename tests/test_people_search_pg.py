"""Issue 17: people search at scale on PostgreSQL. A search matches the beginning of the
username, the email address, the first or the last name (case and Unicode compatibility
forms folded as everywhere else), its count is exact up to 10,000 and says when it stops
there (`total_capped`), and PostgreSQL answers both statements from the prefix indexes by
its own choice once the table holds enough people (no planner settings forced).

PostgreSQL only: the same search on SQLite is tested by tests/test_admin_api.py and
tests/test_admin_pages.py; bench/people_search_pg.py measures it at a million people."""
from __future__ import annotations

import io

import pytest

from conftest import POSTGRES_URL

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not POSTGRES_URL, reason="PostgreSQL only: set KEYSTEAD_TEST_POSTGRES_URL to "
                       "postgresql://user@host:port/db (.ci/run starts one and sets it)"),
]

SEEDED = 21_000  # so that more than COUNT_CAP (10,000) usernames begin with "u"
FIRST = ("Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken")
LAST = ("Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson")
COLUMNS = ("username", "username_key", "email", "email_key", "first_name", "last_name", "role",
           "locked", "email_verified", "email_ever_verified", "provider", "session_epoch",
           "uniquifier", "created_at", "status", "fields", "metadata")


def copy_people(db, rows) -> None:
    """Load (username, email, first, last) rows with COPY, as bench/people_search_pg.py does."""
    from keystead.accounts import normalise
    buf = io.StringIO()
    for n, (username, email, first, last) in enumerate(rows):
        buf.write("\t".join((username, normalise(username), email, normalise(email), first, last,
                             "viewer", "f", "t", "t", "password", "0", f"seeded-{n}-{username}",
                             "2026-01-01 00:00:00", "active", "{}", "{}")) + "\n")
    buf.seek(0)
    with db.atomic():
        db.connection().cursor().copy_expert(f'COPY "user" ({", ".join(COLUMNS)}) FROM STDIN', buf)
    db.execute_sql('ANALYZE "user"')


def generated(count: int):
    for i in range(count):
        first, last = FIRST[i % len(FIRST)], LAST[(i // 8) % len(LAST)]
        # Usernames and emails spread over many prefixes, as real ones are.
        handle = f"{last.lower()}{i:05d}" if i % 2 else f"u{i * 7919 % 100_000:05d}x{i}"
        yield handle, f"{first.lower()}.{i}@host{i % 50}.example", first, last


SPECIAL = [
    ("Zoë_Q", "Zoe.Quartz@Example.ORG", "Zoë", "Ångström"),
    ("ﬁnch", "finch@example.net", "Émile", "Straße"),
    ("qwilliam", "billing@corp.example", "Quentin", "Q'Orian"),
]


@pytest.fixture
def seeded(app):
    """The app with SEEDED generated people and a few with accents, ligatures and case."""
    db = app.extensions["keystead.db"]
    with app.app_context():
        db.connect(reuse_if_open=True)
        copy_people(db, list(generated(SEEDED)) + SPECIAL)
        db.close()
    return app


def search(app, q, page=1, per_page=50):
    from keystead.accounts import search_users
    with app.app_context():
        db = app.extensions["keystead.db"]
        with db.connection_context():
            rows, total = search_users(q, page, per_page)
            return [u.username for u in rows], total


def test_prefix_search_matches_each_of_the_four_columns(seeded):
    assert search(seeded, "zoë_")[0] == ["Zoë_Q"]  # username
    assert search(seeded, "zoe.quartz@")[0] == ["Zoë_Q"]  # email
    assert search(seeded, "billing")[0] == ["qwilliam"]  # email, not the username
    assert search(seeded, "quent")[0] == ["qwilliam"]  # first name
    assert search(seeded, "q'or")[0] == ["qwilliam"]  # last name
    assert search(seeded, "ångs")[0] == ["Zoë_Q"]
    # A prefix only: the middle of a name finds nobody.
    assert search(seeded, "uartz") == ([], 0)


def test_search_folds_case_and_unicode_compatibility_forms(seeded):
    assert search(seeded, "ZOË_Q")[0] == ["Zoë_Q"]
    assert search(seeded, "ÉMILE")[0] == ["ﬁnch"]  # names through lower()
    assert search(seeded, "fin")[0] == ["ﬁnch"]  # the ligature ﬁ is fi (NFKC) in the key
    assert search(seeded, "ｆｉｎｃｈ")[0] == ["ﬁnch"]  # full-width letters (NFKC)
    assert search(seeded, "straße")[0] == ["ﬁnch"]


def test_search_of_two_words_needs_both_and_pages_in_username_order(seeded):
    names, total = search(seeded, "grace hopper")
    assert total == sum(1 for _, _, f, l in generated(SEEDED) if (f, l) == ("Grace", "Hopper"))
    assert names == sorted(names, key=str.casefold)[:50]
    page2, _ = search(seeded, "grace hopper", page=2)
    assert page2 and not set(page2) & set(names)


def test_count_is_exact_up_to_the_cap_and_capped_beyond(seeded):
    from keystead.accounts.queries import COUNT_CAP
    expected = sum(1 for _, _, f, l in generated(SEEDED) if f == "Ada" or l.lower().startswith("ada"))
    assert expected < COUNT_CAP
    names, total = search(seeded, "ada")
    assert (int(total), total.capped) == (expected, False)
    # Every other username begins with "u": more than the cap.
    many = sum(1 for u, e, f, l in generated(SEEDED) if u.startswith("u") or e.startswith("u"))
    assert many > COUNT_CAP
    names, total = search(seeded, "u")
    assert (int(total), total.capped, str(total)) == (COUNT_CAP, True, f"{COUNT_CAP}+")
    assert len(names) == 50


def test_api_says_when_the_total_is_capped(seeded, admin_h):
    client = seeded.test_client()
    body = client.get("/api/v1/users?q=u&per_page=5", headers=admin_h).get_json()
    assert body["total_capped"] is True and body["total"] == 10_000 and len(body["results"]) == 5
    body = client.get("/api/v1/users?q=zoë", headers=admin_h).get_json()
    assert body["total_capped"] is False and body["total"] == 1
    assert [p["username"] for p in body["results"]] == ["Zoë_Q"]


def explain(app, query) -> str:
    with app.app_context():
        db = app.extensions["keystead.db"]
        with db.connection_context():
            sql, params = query.sql()
            return "\n".join(r[0] for r in db.execute_sql("EXPLAIN " + sql, params).fetchall())


@pytest.mark.parametrize("q", ["lovelace0012", "ada.1234@", "frances", "knuth", "grace hop"])
def test_postgresql_answers_the_search_from_the_prefix_indexes(seeded, q):
    """No `SET enable_seqscan`: 20,000 people and ANALYZE, and the planner chooses."""
    from keystead.accounts.queries import count_query, page_ids_query
    for query in (page_ids_query(q, 1, 50), count_query(q)):
        plan = explain(seeded, query)
        assert 'Seq Scan on "user"' not in plan, plan
        assert "Index" in plan, plan


def test_cli_and_people_page_say_when_the_total_is_capped(seeded, admin, auth):
    result = seeded.test_cli_runner().invoke(args=["users", "list", "-q", "u", "--per-page", "3"])
    assert result.exit_code == 0, result.output
    assert "10000+ in all (page 1)." in result.output
    auth.login("root")
    page = auth.client.get("/admin/people?q=u").get_data(as_text=True)
    assert "10000+ people" in page
    page = auth.client.get("/admin/people?q=zo%C3%AB").get_data(as_text=True)
    assert "1 person" in page and "10000+" not in page
