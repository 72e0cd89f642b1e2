"""Issue 17: people search at scale on PostgreSQL. A search matches the beginning of the
username, the email address, the first or the last name (case and Unicode compatibility
forms folded as everywhere else), its count is exact up to 10,000 and says when it stops
there (`total_capped`), and PostgreSQL answers the count and the page from indexes (the
search prefixes, the covering indexes) by its own choice once the table holds enough
people (no planner settings forced), a common prefix without sorting its matches. The
same people give the same results, order, pages and totals as on SQLite, and the search
prefixes follow every change to people.

PostgreSQL only (the comparison makes its own SQLite database): the search on SQLite is
tested by tests/test_admin_api.py and tests/test_admin_pages.py; bench/people_search_pg.py
measures it at a million people."""
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
    # The people and their search prefixes (filled by the triggers), as autovacuum would
    # after such a load (VACUUM marks the pages whose entries an index alone can answer).
    db.execute_sql('VACUUM ANALYZE "user"')
    db.execute_sql("VACUUM ANALYZE user_search_prefix")


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


def explain(app, statement) -> str:
    with app.app_context():
        db = app.extensions["keystead.db"]
        with db.connection_context():
            sql, params = statement
            return "\n".join(r[0] for r in db.execute_sql("EXPLAIN " + sql, params).fetchall())


def search_statements(app, q, page=1, per_page=50, cap=None):
    """The statements search_users runs for `q` on PostgreSQL, in order (`cap`: instead
    of COUNT_CAP, to see what a search matching more than the cap runs)."""
    from keystead.accounts.queries import COUNT_CAP, _search_words
    from keystead.accounts.search_postgres import Search
    with app.app_context():
        db = app.extensions["keystead.db"]
        with db.connection_context():
            search = Search(db, _search_words(q), None, cap or COUNT_CAP)
            search.count()
            search.page_ids((page - 1) * per_page, per_page)
            return search.statements


@pytest.mark.parametrize("q, page, cap", [
    ("lovelace0012", 1, None), ("ada.1234@", 1, None), ("frances", 1, None),  # longer words
    ("u", 10, None), ("fr", 3, None),  # short words
    ("grace hop", 1, None), ("gr ho", 2, None),  # two words
    ("hopper", 4, 1000), ("grace hopper", 1, 100),  # matching more than the count's cap
])
def test_postgresql_answers_the_search_from_indexes_without_reading_the_table(seeded, q, page, cap):
    """No `SET enable_seqscan`: 20,000 people and ANALYZE, and the planner chooses; the
    count and the page are read from indexes (the people's own rows only for a page, or
    to check a longer word), a common prefix included."""
    statements = search_statements(seeded, q, page, cap=cap)
    assert statements
    for statement in statements:
        plan = explain(seeded, statement)
        assert "Seq Scan" not in plan, plan
        assert "Index" in plan, plan


def test_a_common_prefix_is_read_in_username_order_not_sorted(seeded):
    """One letter matching half the people: the page is the first entries of one index
    range, already in username order, and the count stops at the cap."""
    count, page = search_statements(seeded, "u")
    for statement in (count, page):
        plan = explain(seeded, statement)
        assert "Index Only Scan using user_search_prefix_pkey" in plan, plan
        assert "Sort" not in plan, plan
    assert "LIMIT 10001" in count[0]


def test_cli_and_people_page_say_when_the_total_is_capped(seeded, admin, auth):
    result = seeded.test_cli_runner().invoke(args=["users", "list", "-q", "u", "--per-page", "3"])
    assert result.exit_code == 0, result.output
    assert "10000+ in all (page 1)." in result.output
    auth.login("root")
    page = auth.client.get("/admin/people?q=u").get_data(as_text=True)
    assert "10000+ people" in page
    page = auth.client.get("/admin/people?q=zo%C3%AB").get_data(as_text=True)
    assert "1 person" in page and "10000+" not in page


# ---------------------------------------------------------------- the same answers as SQLite

ALIKE_FIRST = ("Ada", "Adam", "Anne", "Anna", "Ann-Marie", "Bob", "Émile", "Zoë", "Grace", "Olu")
ALIKE_LAST = ("Lovelace", "Hopper", "Straße", "O'Brien", "de la Cruz", "Ångström", "Abe", "Ab_cd",
              "50%off", "Hop")


def alike_people(count: int = 600):
    """(username, email, first, last): shared beginnings across the four columns, the LIKE
    wildcards _ and %, case folding (ß, accents), names with spaces, no email."""
    for i in range(count):
        first, last = ALIKE_FIRST[i % 10], ALIKE_LAST[(i * 7 // 10) % 10]
        handle = (f"{first[:3]}{i}", f"{last[:2]}_{i}", f"a%{i}", f"Ada{i:03d}", f"{first}.{last[:3]}{i}")[i % 5]
        email = None if i % 9 == 0 else f"{(last if i % 2 else first)[:4]}{i}@Ex{i % 3}.example"
        yield handle, email, first, last


# Names with a non-ASCII capital are searched as stored ("Ém"): SQLite's lower() folds
# ASCII letters only (docs/api.md), PostgreSQL's folds them all.
ALIKE_SEARCHES = (
    "a", "A", "ad", "ada", "adam", "ada0", "ada01", "an", "ann", "ann-", "anne", "Ém", "Émile",
    "zo", "zoë", "zoe", "o'", "o'b", "de", "de la", "ab", "ab_", "ab_c", "a%", "a%1", "50", "50%",
    "Å", "Ång", "str", "stra", "straß", "strasse", "ho", "hop", "hopp", "ex", "gra", "grace",
    "lov", "love", "b", "bob", "olu", "ada lov", "gr ho", "a b", "anna hop", "zoë å", "Émile de",
    "x", "nobody", "a_", "%", "_", "\\", "ada ada",
)


def _seed_alike(app):
    from keystead.accounts import normalise
    from keystead.models import User
    rows = [dict(username=u, username_key=normalise(u), email=e, email_key=normalise(e) if e else None,
                 first_name=f, last_name=l, uniquifier=f"alike-{n}", status="pending" if n % 4 == 0 else "active")
            for n, (u, e, f, l) in enumerate(alike_people())]
    with app.app_context():
        db = app.extensions["keystead.db"]
        with db.connection_context():
            with db.atomic():
                for start in range(0, len(rows), 100):
                    User.insert_many(rows[start:start + 100]).execute()


def _answers(app, per_page=7):
    from keystead.accounts import search_users
    out = {}
    with app.app_context():
        db = app.extensions["keystead.db"]
        with db.connection_context():
            for q in ALIKE_SEARCHES:
                for page in (1, 2, 5):
                    rows, total = search_users(q, page, per_page)
                    out[q, page] = ([u.username for u in rows], int(total), total.capped)
                # The sign-up approval state as a filter (the API's `status`).
                rows, total = search_users(q, 2, per_page, status="pending")
                out[q, "pending"] = ([u.username for u in rows], int(total), total.capped)
    return out


def test_results_order_paging_and_totals_are_the_same_as_on_sqlite(make_app, tmp_path, monkeypatch):
    """The same people on SQLite and PostgreSQL: every search gives the same people, in the
    same order, on the same pages, with the same total. The count's cap lowered to 40 so
    that searches on both sides of it are compared (PostgreSQL reads a page differently
    past the cap)."""
    from conftest import TEST_SETTINGS
    from keystead import create_app
    from keystead.accounts import queries
    monkeypatch.setattr(queries, "COUNT_CAP", 40)
    sqlite_app = create_app({**TEST_SETTINGS, "Server.DatabaseURL": f"sqlite:///{tmp_path / 'alike.db'}"},
                            instance_path=str(tmp_path / "sqlite-instance"))
    _seed_alike(sqlite_app)
    on_sqlite = _answers(sqlite_app)
    postgres_app = make_app()  # the app bound last is the one the models use
    _seed_alike(postgres_app)
    on_postgres = _answers(postgres_app)
    assert on_postgres == on_sqlite
    # The comparison covered both kinds of page and several pages of results.
    assert any(capped for _, _, capped in on_sqlite.values())
    assert any(0 < total <= 40 for _, total, _ in on_sqlite.values())
    assert any(len(names) == 7 for (q, page), (names, _, _) in on_sqlite.items() if page == 5)
    assert any(len(names) == 7 for (q, page), (names, _, _) in on_sqlite.items() if page == "pending")
    assert on_sqlite["a%", 1][0] and on_sqlite["ab_", 1][0] and on_sqlite["nobody", 1] == ([], 0, False)


# ---------------------------------------------------------------- kept up to date

def test_search_follows_changes_to_people_made_through_the_api(app, admin_h):
    """The prefix entries are kept by the database: a new person is found at once, a
    changed name or email is found by the new one and no longer by the old, a deleted
    person is found no more."""
    client = app.test_client()

    def found(q):
        body = client.get("/api/v1/users", query_string={"q": q}, headers=admin_h).get_json()
        return [p["username"] for p in body["results"]]

    r = client.post("/api/v1/users", json={"username": "quill", "email": "quill@example.org",
                                           "first_name": "Quentin", "last_name": "Xavier"}, headers=admin_h)
    assert r.status_code == 201, r.get_json()
    person = r.get_json()["id"]
    assert found("q") == found("qu") == found("xa") == found("x") == ["quill"]
    r = client.patch(f"/api/v1/users/{person}", json={"first_name": "Wendell", "last_name": "Yu",
                                                      "email": "zed@example.org"}, headers=admin_h)
    assert r.status_code == 200, r.get_json()
    assert found("we") == found("yu") == found("z") == found("q") == ["quill"]
    assert found("xa") == found("x") == found("quen") == []
    assert client.delete(f"/api/v1/users/{person}", headers=admin_h).status_code in (200, 204)
    assert found("q") == found("we") == []
