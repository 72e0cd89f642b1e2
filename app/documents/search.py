"""Full-text search over the documents a caller may read, behind one function, `search`.

SQLite: an FTS5 table `document_fts` with external content (the text is stored once, in
`document`), kept up to date by triggers on `document`; ranked with bm25 (a word in the
title counts ten times one in the text), highlighted with snippet().

PostgreSQL: a stored generated column `document.search_vector` (title weighted A, text
weighted D; the first INDEXED_CHARS characters of the text, or FALLBACK_CHARS for text
so full of distinct words that its tsvector would pass PostgreSQL's 1 MB limit) with a
GIN index (fastupdate off); ranked with ts_rank (normalised by document length),
highlighted with ts_headline (from the first HEADLINE_CHARS characters).

Both answer in one SQL statement: the access rule (app/documents/access.py) is part of
the WHERE clause, so a document the caller may not read is never ranked, counted or
shown; the highlight is computed only for the rows of the page asked for. Ranking uses
each engine's statistics over the whole index, so no score is returned.

Queries: words (all must match, stemmed: "running" finds "run"), "quoted phrases", and
word* for a prefix. Everything else in the query is ignored, so no input can be a
syntax error.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from markupsafe import Markup, escape
from peewee import Database, PostgresqlDatabase, SqliteDatabase

from ..errors import ValidationFailed
from ..models import User
from .access import readable_sql
from .ingest import MARK_END, MARK_START
from .models import Document

FTS_TABLE = "document_fts"
PG_CONFIG = "english"
INDEXED_CHARS = 1_000_000  # PostgreSQL: a tsvector is limited to 1 MB...
FALLBACK_CHARS = 200_000  # ...which this many characters never exceed, whatever the words
HEADLINE_CHARS = 200_000  # PostgreSQL: ts_headline reads this much of each hit
MAX_TERMS = 20
MAX_QUERY = 500
SNIPPET_TOKENS = 24
TITLE_WEIGHT = 10.0


# ---------------------------------------------------------------- schema (migration m0003)

def install(db: Database) -> None:
    """Create the index and what keeps it current, and index any existing rows."""
    if isinstance(db, SqliteDatabase):
        db.execute_sql(
            f"CREATE VIRTUAL TABLE IF NOT EXISTS {FTS_TABLE} USING fts5("
            f"title, text, content='document', content_rowid='id', "
            f"tokenize='porter unicode61 remove_diacritics 2', prefix='2 3 4')")
        db.execute_sql(f"""
            CREATE TRIGGER IF NOT EXISTS document_fts_insert AFTER INSERT ON document BEGIN
              INSERT INTO {FTS_TABLE}(rowid, title, text) VALUES (new.id, new.title, new.text);
            END""")
        db.execute_sql(f"""
            CREATE TRIGGER IF NOT EXISTS document_fts_delete AFTER DELETE ON document BEGIN
              INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, title, text)
                VALUES ('delete', old.id, old.title, old.text);
            END""")
        db.execute_sql(f"""
            CREATE TRIGGER IF NOT EXISTS document_fts_update AFTER UPDATE OF title, text ON document BEGIN
              INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, title, text)
                VALUES ('delete', old.id, old.title, old.text);
              INSERT INTO {FTS_TABLE}(rowid, title, text) VALUES (new.id, new.title, new.text);
            END""")
        db.execute_sql(f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('rebuild')")
    elif isinstance(db, PostgresqlDatabase):
        # A tsvector holds at most 1 MB (error 54000 beyond): index the first INDEXED_CHARS
        # characters of the text, or fewer for text of many distinct words, rather than
        # refuse the document.
        db.execute_sql(f"""
            CREATE OR REPLACE FUNCTION document_search_vector(title text, body text)
            RETURNS tsvector LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
            DECLARE
              heading tsvector := setweight(to_tsvector('{PG_CONFIG}', coalesce(title, '')), 'A');
            BEGIN
              RETURN heading || setweight(to_tsvector('{PG_CONFIG}', left(coalesce(body, ''), {INDEXED_CHARS})), 'D');
            EXCEPTION WHEN program_limit_exceeded THEN
              BEGIN
                RETURN heading || setweight(to_tsvector('{PG_CONFIG}', left(coalesce(body, ''), {FALLBACK_CHARS})), 'D');
              EXCEPTION WHEN program_limit_exceeded THEN
                RETURN heading;
              END;
            END $$""")
        db.execute_sql("ALTER TABLE document ADD COLUMN IF NOT EXISTS search_vector tsvector "
                       "GENERATED ALWAYS AS (document_search_vector(title, text)) STORED")
        # fastupdate off: no pending list, so the planner's view of the index (and the
        # speed of a search) does not depend on when VACUUM last ran.
        db.execute_sql("CREATE INDEX IF NOT EXISTS document_search_vector "
                       "ON document USING GIN (search_vector) WITH (fastupdate = off)")
    else:
        raise RuntimeError(f"document search needs SQLite or PostgreSQL, not {type(db).__name__}")


# ---------------------------------------------------------------- the query language

@dataclass(frozen=True)
class Term:
    words: tuple[str, ...]  # one word, or the words of a phrase
    prefix: bool = False


_TOKEN = re.compile(r'"([^"]*)"?|(\w+)(\*)?')


def _words(text: str) -> list[str]:
    return [w.lower() for w in re.findall(r"\w+", text) if re.search(r"[^\W_]", w)]


def parse_query(q: str) -> list[Term]:
    """The terms of a query; ValidationFailed when there is nothing to search for."""
    terms: list[Term] = []
    for m in _TOKEN.finditer((q or "")[:MAX_QUERY]):
        if m.group(1) is not None:
            words = _words(m.group(1))
            if words:
                terms.append(Term(tuple(words[:MAX_TERMS])))
        else:
            words = _words(m.group(2))
            # "foo_bar" is one \w+ run but two words to the tokenizers: keep it as a phrase.
            if words:
                terms.append(Term(tuple(words), prefix=bool(m.group(3)) and len(words) == 1))
    terms = list(dict.fromkeys(terms))[:MAX_TERMS]
    if not terms:
        raise ValidationFailed({"q": "Enter one or more words to search for."})
    return terms


def _fts5_query(terms: list[Term]) -> str:
    # Every term a quoted FTS5 string ("..."), so nothing in it is syntax; words hold no quotes.
    return " AND ".join(f'"{" ".join(t.words)}"' + ("*" if t.prefix else "") for t in terms)


def _pg_query(terms: list[Term], param: str) -> tuple[str, list]:
    parts, params = [], []
    for t in terms:
        if t.prefix:
            parts.append(f"to_tsquery('{PG_CONFIG}', {param})")
            params.append(f"'{t.words[0]}':*")  # \w+ holds no quote
        elif len(t.words) > 1:
            parts.append(f"phraseto_tsquery('{PG_CONFIG}', {param})")
            params.append(" ".join(t.words))
        else:
            parts.append(f"plainto_tsquery('{PG_CONFIG}', {param})")
            params.append(t.words[0])
    return " && ".join(parts), params


# ---------------------------------------------------------------- search

@dataclass
class Hit:
    document: Document  # without its text; `document.owner.username` is loaded
    snippet: Markup  # HTML: the text escaped, the matches in <mark>


@dataclass
class SearchPage:
    results: list[Hit]
    total: int
    page: int
    per_page: int


_COLUMNS = ("d.id, d.owner_id, d.title, d.filename, d.content_type, d.size, d.created_at, "
            "u.username AS owner_username")


def search(db: Database, user: User, q: str, page: int = 1, per_page: int = 20) -> SearchPage:
    """The documents `user` may read that match `q`, best first, with a highlighted snippet
    each, and how many match in all."""
    terms = parse_query(q)
    offset = (page - 1) * per_page
    param = db.param
    access, access_params = readable_sql(user, param, postgres=isinstance(db, PostgresqlDatabase))
    if isinstance(db, SqliteDatabase):
        match = _fts5_query(terms)
        sql = f"""
            SELECT p.*, snippet({FTS_TABLE}, 1, {param}, {param}, '…', {SNIPPET_TOKENS}) AS snippet
            FROM (
              SELECT {_COLUMNS}, f.rank AS rank, count(*) OVER () AS total
              FROM (SELECT rowid AS id, bm25({FTS_TABLE}, {TITLE_WEIGHT}, 1.0) AS rank
                    FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH {param}) AS f
              JOIN document d ON d.id = f.id
              JOIN "user" u ON u.id = d.owner_id
              WHERE {access}
              ORDER BY f.rank, d.id LIMIT {param} OFFSET {param}
            ) AS p
            JOIN {FTS_TABLE} ON {FTS_TABLE}.rowid = p.id
            WHERE {FTS_TABLE} MATCH {param}
            ORDER BY p.rank, p.id"""
        params = [MARK_START, MARK_END, match, *access_params, per_page, offset, match]
    elif isinstance(db, PostgresqlDatabase):
        tsquery, query_params = _pg_query(terms, param)
        options = (f"StartSel={MARK_START}, StopSel={MARK_END}, MaxWords=35, MinWords=12, "
                   f"ShortWord=2, MaxFragments=2, FragmentDelimiter=\" … \"")
        # The tsquery is written out where it is used (not taken from a CTE) so that the
        # planner sees a constant and answers `@@` from the GIN index.
        sql = f"""
            SELECT p.*, ts_headline('{PG_CONFIG}', left(d2.text, {HEADLINE_CHARS}), {tsquery}, {param}) AS snippet
            FROM (
              SELECT {_COLUMNS}, ts_rank(d.search_vector, {tsquery}, 1) AS rank, count(*) OVER () AS total
              FROM document d JOIN "user" u ON u.id = d.owner_id
              WHERE d.search_vector @@ ({tsquery}) AND {access}
              ORDER BY rank DESC, d.id LIMIT {param} OFFSET {param}
            ) AS p
            JOIN document d2 ON d2.id = p.id
            ORDER BY p.rank DESC, p.id"""
        params = [*query_params, options, *query_params, *query_params, *access_params,
                  per_page, offset]
    else:
        raise RuntimeError(f"document search needs SQLite or PostgreSQL, not {type(db).__name__}")

    rows = list(Document.raw(sql, *params))
    if rows:
        total = rows[0].total
    elif page > 1:  # past the last page: the count alone
        total = _count(db, user, terms)
    else:
        total = 0
    hits = []
    for row in rows:
        row.owner = User(id=row.owner_id, username=row.owner_username)
        hits.append(Hit(document=row, snippet=highlight(row.snippet or "")))
    return SearchPage(results=hits, total=total, page=page, per_page=per_page)


def _count(db: Database, user: User, terms: list[Term]) -> int:
    param = db.param
    access, access_params = readable_sql(user, param, postgres=isinstance(db, PostgresqlDatabase))
    if isinstance(db, SqliteDatabase):
        sql = (f"SELECT count(*) FROM {FTS_TABLE} JOIN document d ON d.id = {FTS_TABLE}.rowid "
               f"WHERE {FTS_TABLE} MATCH {param} AND {access}")
        params = [_fts5_query(terms), *access_params]
    else:
        tsquery, query_params = _pg_query(terms, param)
        sql = f"SELECT count(*) FROM document d WHERE d.search_vector @@ ({tsquery}) AND {access}"
        params = [*query_params, *access_params]
    return db.execute_sql(sql, params).fetchone()[0]


def highlight(snippet: str) -> Markup:
    """A snippet with the engine's markers as safe HTML: everything escaped, then each
    marked stretch wrapped in <mark>. (Stored text never holds the markers.)"""
    html = str(escape(snippet))
    html = html.replace(MARK_START, "<mark>").replace(MARK_END, "</mark>")
    # An engine may cut a snippet between the two markers: close what it opened.
    opened = html.count("<mark>") - html.count("</mark>")
    return Markup(html + "</mark>" * max(opened, 0))
