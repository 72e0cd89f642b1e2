"""Full-text search (SPEC 8, issue 8 item 3): ranking, highlighted snippets, the query
language, paging, and above all that only documents the caller may read are ever
searched or counted. The whole file runs on SQLite (FTS5) and, when
KEYSTEAD_TEST_POSTGRES_URL names a server, on PostgreSQL (tsvector) too."""
from __future__ import annotations

import logging
import re

import pytest
from peewee import PostgresqlDatabase, SqliteDatabase

from api_support import API, assert_error, bearer, in_db, login
from conftest import POSTGRES_URL
from documents_support import create_text, make_group


@pytest.fixture
def people(users):
    # Publishers: since issue 14 viewers no longer upload (tests/test_authorization.py).
    return {name: users.create(name, role="administrator" if name == "root" else "publisher")[0]
            for name in ("alice", "bob", "root")}


@pytest.fixture
def tok(client, people):
    return {name: login(client, name)["access_token"] for name in people}


def _search(client, token, q, **params):
    r = client.get(f"{API}/documents/search", query_string={"q": q, **params}, headers=bearer(token))
    assert r.status_code == 200, r.get_data(as_text=True)
    return r.get_json()


def test_search_runs_on_the_configured_database(app):
    db = app.extensions["keystead.db"]
    assert isinstance(db, PostgresqlDatabase if POSTGRES_URL else SqliteDatabase)


def test_hits_are_ranked_best_first(client, tok):
    t = tok["alice"]
    filler = " ".join(f"word{i}" for i in range(300))
    once = create_text(client, t, "Field notes", f"{filler} we saw one osprey today {filler}")
    title = create_text(client, t, "Osprey nesting", "Nests are built high on dead trees. The osprey "
                        "returns each spring; every osprey pair reuses its nest.")
    create_text(client, t, "Unrelated", "Nothing about birds of prey here.")
    body = _search(client, t, "osprey")
    assert [hit["id"] for hit in body["results"]] == [title["id"], once["id"]]
    assert body["total"] == 2
    # Every hit carries the Document fields and a snippet.
    assert set(body["results"][0]) == {"id", "title", "filename", "size", "content_type",
                                       "created_at", "owner", "snippet"}
    assert body["results"][0]["owner"]["username"] == "alice"


def test_snippets_highlight_the_matches_and_escape_the_rest(client, tok):
    t = tok["alice"]
    create_text(client, t, "Attack", 'A pelican <img src=x onerror="alert(1)"> & a <b>pelican</b> again.')
    long_text = " ".join(["padding"] * 200) + " the rare cormorant appears " + " ".join(["padding"] * 200)
    create_text(client, t, "Long", long_text)

    [hit] = _search(client, t, "pelican")["results"]
    snippet = hit["snippet"]
    assert snippet.count("<mark>") >= 1 and snippet.count("<mark>") == snippet.count("</mark>")
    assert re.search(r"<mark>pelican</mark>", snippet, re.IGNORECASE)
    # Nothing from the document becomes markup: only <mark> tags are real.
    assert re.sub(r"</?mark>", "", snippet).count("<") == 0
    assert "<img" not in snippet and "onerror=\"" not in snippet

    [hit] = _search(client, t, "cormorant")["results"]
    assert "<mark>cormorant</mark>" in hit["snippet"]
    assert len(hit["snippet"]) < 600  # an excerpt around the match, not the whole text


def test_words_are_stemmed_and_all_must_match(client, tok):
    t = tok["alice"]
    a = create_text(client, t, "Runners", "The runners were running along the river bank.")
    b = create_text(client, t, "Swimmers", "Swimmers swim in the river.")
    assert {h["id"] for h in _search(client, t, "run")["results"]} == {a["id"]}
    assert {h["id"] for h in _search(client, t, "river")["results"]} == {a["id"], b["id"]}
    assert {h["id"] for h in _search(client, t, "river swimming")["results"]} == {b["id"]}
    assert _search(client, t, "river kayak")["total"] == 0


def test_phrases_and_prefixes(client, tok):
    t = tok["alice"]
    a = create_text(client, t, "A", "a quick brown fox jumps")
    b = create_text(client, t, "B", "brown quick fox sleeps")
    assert {h["id"] for h in _search(client, t, '"quick brown"')["results"]} == {a["id"]}
    assert {h["id"] for h in _search(client, t, "quick brown")["results"]} == {a["id"], b["id"]}
    assert {h["id"] for h in _search(client, t, "slee*")["results"]} == {b["id"]}


@pytest.mark.parametrize("q", ['") OR *', "NEAR(a b", "fox AND", "-fox", "title:fox", "fox^2",
                               "'; DROP TABLE document; --", '"unclosed phrase', "fox*)",
                               "ñandú", "x" * 2000])
def test_no_query_is_a_syntax_error(client, tok, q):
    create_text(client, tok["alice"], "Fox", "the fox and the ñandú")
    body = _search(client, tok["alice"], q)
    assert isinstance(body["total"], int)


@pytest.mark.parametrize("q", ["", "   ", "!!! ???", "_", "***"])
def test_a_query_without_words_is_422(client, tok, q):
    r = client.get(f"{API}/documents/search", query_string={"q": q}, headers=bearer(tok["alice"]))
    e = assert_error(r, 422, "validation_failed")
    assert set(e["fields"]) == {"q"}


def test_paging_and_totals(client, tok):
    t = tok["alice"]
    ids = [create_text(client, t, f"Doc {i}", "heron " * (i + 1))["id"] for i in range(5)]
    first = _search(client, t, "heron", per_page=2)
    assert (first["total"], first["page"], first["per_page"], len(first["results"])) == (5, 1, 2, 2)
    pages = [h["id"] for p in (1, 2, 3) for h in _search(client, t, "heron", per_page=2, page=p)["results"]]
    assert sorted(pages) == sorted(ids)  # each once, no repeats across pages
    beyond = _search(client, t, "heron", per_page=2, page=9)
    assert beyond["results"] == [] and beyond["total"] == 5
    assert _search(client, t, "heron")["per_page"] == 20


# ---------------------------------------------------------------- only what the caller may read

def test_only_readable_documents_are_searched_and_counted(app, client, tok, people):
    own = create_text(client, tok["bob"], "Bob's", "lighthouse keeper log")
    secret = create_text(client, tok["alice"], "Alice's private", "lighthouse lighthouse lighthouse")
    shared = create_text(client, tok["alice"], "Alice's shared", "the lighthouse at dawn")
    team = make_group(app, "team", [people["alice"], people["bob"]])
    assert client.put(f"{API}/documents/{shared['id']}/groups/{team.id}",
                      headers=bearer(tok["alice"])).status_code == 204

    body = _search(client, tok["bob"], "lighthouse")
    assert {h["id"] for h in body["results"]} == {own["id"], shared["id"]}
    assert body["total"] == 2  # alice's private document is not counted
    assert all("Alice's private" != h["title"] for h in body["results"])
    # A page past the results counts only readable documents too.
    assert _search(client, tok["bob"], "lighthouse", page=5)["total"] == 2

    assert {h["id"] for h in _search(client, tok["alice"], "lighthouse")["results"]} == {secret["id"], shared["id"]}
    admin = _search(client, tok["root"], "lighthouse")
    assert admin["total"] == 3 and {h["id"] for h in admin["results"]} == {own["id"], secret["id"], shared["id"]}

    # The share ends: bob's search no longer finds or counts it, at once.
    client.delete(f"{API}/documents/{shared['id']}/groups/{team.id}", headers=bearer(tok["alice"]))
    body = _search(client, tok["bob"], "lighthouse")
    assert [h["id"] for h in body["results"]] == [own["id"]] and body["total"] == 1


def test_deleted_documents_leave_the_index(app, client, tok):
    t = tok["alice"]
    doc = create_text(client, t, "Temp", "ephemeral mayfly")
    assert _search(client, t, "mayfly")["total"] == 1
    client.delete(f"{API}/documents/{doc['id']}", headers=bearer(t))
    assert _search(client, tok["root"], "mayfly")["total"] == 0
    db = app.extensions["keystead.db"]
    if isinstance(db, SqliteDatabase):  # the external-content index agrees with its table
        in_db(app, lambda: db.execute_sql(
            "INSERT INTO document_fts(document_fts, rank) VALUES ('integrity-check', 1)"))


# ---------------------------------------------------------------- cost

def _queries_during(caplog, fn) -> list[str]:
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger="peewee"):
        fn()
    return [r.msg[0] for r in caplog.records if r.name == "peewee" and isinstance(r.msg, tuple)]


def test_a_search_runs_a_small_constant_number_of_queries(app, client, tok, people, caplog):
    t = tok["bob"]
    team = make_group(app, "team", [people["alice"], people["bob"]])
    create_text(client, t, "First", "albatross over the sea")

    def search():
        body = _search(client, t, "albatross", per_page=50)
        return body

    few = _queries_during(caplog, search)
    # Many more hits, own and shared, with many groups.
    for i in range(30):
        create_text(client, t, f"Own {i}", f"albatross number {i}")
        doc = create_text(client, tok["alice"], f"Shared {i}", f"albatross shared {i}")
        client.put(f"{API}/documents/{doc['id']}/groups/{team.id}", headers=bearer(tok["alice"]))
    for i in range(5):
        make_group(app, f"g{i}", [people["bob"]])
    many = _queries_during(caplog, search)
    assert _search(client, t, "albatross", per_page=50)["total"] == 61

    assert len(many) == len(few), many
    searching = [q for q in many if "document" in q]
    assert len(searching) == 1, searching  # hits, ranks, snippets and the total: one statement
    assert len(many) <= 4, many  # plus authenticating the token


def test_a_huge_document_of_distinct_words_is_stored_and_searchable(client, tok):
    """PostgreSQL's tsvector holds at most 1 MB: such a text is indexed from its start
    (app/documents/search.py) instead of being refused or failing the upload."""
    import io
    import random
    import string
    rng = random.Random(8)
    words = ["".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(5, 10)))
             for _ in range(160_000)]
    text = "needleword " + " ".join(words)
    assert len(text) > 1_000_000
    r = client.post(f"{API}/documents", data={"file": (io.BytesIO(text.encode()), "words.txt")},
                    headers=bearer(tok["alice"]), content_type="multipart/form-data")
    assert r.status_code == 201, r.get_data(as_text=True)
    [hit] = _search(client, tok["alice"], "needleword")["results"]
    assert "<mark>needleword</mark>" in hit["snippet"]
