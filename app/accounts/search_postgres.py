"""The people search on PostgreSQL, kept fast at a million people
(app/migrations/m0021_people_search_prefixes.py, docs/performance.md).

A word of the search matches a person when it begins their username, email address,
first or last name; pages are ordered by username (code-point order, as on SQLite). Two
structures answer it, and the words decide which:

- `user_search_prefix` holds, for each person, every distinct beginning of one to
  PREFIX_LENGTH characters of those four (keys as compared: the normalised username and
  email, lower() of the names), with the username key, under the key (prefix,
  username_key). The people a short word matches are one range of that index, already in
  username order: a page reads the entries up to its end, the count at most COUNT_CAP + 1
  entries, however many people match. This is what keeps one or two letters, or a common
  first name, fast: no sorting of a fifth of the people.
- four covering indexes, one per column, in the "C" collation (holding the other
  columns, the status and the id): a longer word is looked up as four ranges, read from
  the indexes alone. Such a word usually matches few people, who are counted and sorted;
  when it matches more than COUNT_CAP, the page instead walks the prefix entries of its
  first PREFIX_LENGTH characters in username order, checking each person, and most of
  them match.

With several short words, their entries are joined on the username key (PostgreSQL
merges the ranges, each already in username order); with a longer word, each candidate is
checked against every word's columns.
"""
from __future__ import annotations

PREFIX_LENGTH = 3
COLUMNS = ('{t}username_key COLLATE "C"', '{t}email_key COLLATE "C"',
           'lower({t}first_name) COLLATE "C"', 'lower({t}last_name) COLLATE "C"')

Statement = tuple[str, list]


def like_pattern(needle: str) -> str:
    """`needle` as a LIKE pattern matching what begins with it (backslash is the escape)."""
    return needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _patterns(word: tuple[str, str]) -> list[str]:
    """The pattern per column: usernames and emails are compared by key, names by lower()."""
    key, name = word
    return [like_pattern(key), like_pattern(key), like_pattern(name), like_pattern(name)]


def _word_condition(word, table: str = "") -> Statement:
    columns = [c.format(t=table) for c in COLUMNS]
    return "(" + " OR ".join(f"{c} LIKE %s" for c in columns) + ")", _patterns(word)


def is_short(word: tuple[str, str]) -> bool:
    """Whether the prefix entries answer `word` exactly: at most PREFIX_LENGTH characters,
    and the same needle for usernames and names (case folding can differ, as ß / ss)."""
    key, name = word
    return len(key) <= PREFIX_LENGTH and key == name


# ---------------------------------------------------------------- the prefix entries

def _entries(select: str, driver: str, probes: list[str], checked: list, status: str | None) -> Statement:
    """People whose prefix entries hold `driver` (p0, in username order) and each of
    `probes` (joined on the username key: PostgreSQL merges the ranges, both in username
    order, or looks the fewer up), whose columns begin with each word of `checked`, and in
    `status` when given."""
    sql = [f"SELECT {select} FROM user_search_prefix p0"]
    params: list = []
    for n, prefix in enumerate(probes, 1):
        sql.append(f"JOIN user_search_prefix p{n} ON p{n}.prefix = %s AND p{n}.username_key = p0.username_key")
        params.append(prefix)
    where, where_params = ["p0.prefix = %s"], [driver]
    if checked or status is not None:
        sql.append('JOIN "user" u ON u.id = p0.user_id')
        for word in checked:
            condition, word_params = _word_condition(word, "u.")
            where.append(condition)
            where_params += word_params
        if status is not None:
            where.append("u.status = %s")
            where_params.append(status)
    return " ".join(sql) + " WHERE " + " AND ".join(where), params + where_params


def entries_count_statement(prefix: str, cap: int) -> Statement:
    """How many people have `prefix` among their entries, up to `cap` + 1."""
    return (f"SELECT count(*) FROM (SELECT 1 FROM user_search_prefix WHERE prefix = %s "
            f"LIMIT {int(cap) + 1}) AS matches", [prefix])


# ---------------------------------------------------------------- the covering indexes

def _branches(words: list, status: str | None, select: str) -> Statement:
    """UNION ALL of one SELECT per column of the longest word (the fewest matches, as a
    rule), each leaving out the people an earlier column already yielded (so nobody comes
    twice) and requiring the other words and the status."""
    driver = max(range(len(words)), key=lambda i: len(words[i][0]))
    patterns = _patterns(words[driver])
    extra, extra_params = [], []
    for i, word in enumerate(words):
        if i != driver:
            condition, params = _word_condition(word)
            extra.append(condition)
            extra_params += params
    if status is not None:
        extra.append("status = %s")
        extra_params.append(status)
    columns = [c.format(t="") for c in COLUMNS]
    parts, params = [], []
    for n, column in enumerate(columns):
        conditions = [f"{column} LIKE %s"] + [f"({columns[j]} LIKE %s) IS NOT TRUE" for j in range(n)]
        parts.append(f'(SELECT {select} FROM "user" WHERE ' + " AND ".join(conditions + extra) + ")")
        params += [patterns[n]] + patterns[:n] + extra_params
    return " UNION ALL ".join(parts), params


def columns_count_statement(words: list, status: str | None, cap: int) -> Statement:
    union, params = _branches(words, status, "1")
    return f"SELECT count(*) FROM ({union} LIMIT {int(cap) + 1}) AS matches", params


def columns_page_statement(words: list, status: str | None, offset: int, limit: int) -> Statement:
    union, params = _branches(words, status, 'id, username_key COLLATE "C" AS username_order')
    return (f"SELECT id FROM ({union}) AS matches ORDER BY username_order "
            f"LIMIT {int(limit)} OFFSET {int(offset)}", params)


# ---------------------------------------------------------------- the search

class Search:
    """One search: `count()`, then `page_statement()` (or `page_ids()`); `statements`
    lists their SQL in order (for EXPLAIN in the tests and the benchmark)."""

    def __init__(self, db, words: list[tuple[str, str]], status: str | None, cap: int):
        self.db, self.words, self.status, self.cap = db, words, status, cap
        self.statements: list[Statement] = []
        self.short = all(is_short(w) for w in words)
        self.driver = max(words, key=lambda w: len(w[0]))  # the longest: the fewest matches, as a rule
        self.many = False

    def _run(self, statement: Statement):
        self.statements.append(statement)
        return self.db.execute_sql(*statement).fetchall()

    def count(self) -> int:
        """How many people match, up to cap + 1."""
        if not self.short:
            n = self._run(columns_count_statement(self.words, self.status, self.cap))[0][0]
        elif len(set(self.words)) == 1 and self.status is None:
            n = self._run(entries_count_statement(self.driver[0], self.cap))[0][0]
        else:
            n = self._run(self._entries_statement("1", f"LIMIT {self.cap + 1}", count=True))[0][0]
        self.many = n > self.cap
        return n

    def _entries_statement(self, select: str, tail: str, count: bool = False) -> Statement:
        if self.short:
            probes = [w[0] for w in dict.fromkeys(self.words) if w != self.driver]
            checked = []
        else:
            probes, checked = [], list(self.words)
        sql, params = _entries(select, self.driver[0][:PREFIX_LENGTH], probes, checked, self.status)
        if count:
            return f"SELECT count(*) FROM ({sql} {tail}) AS matches", params
        return f"{sql} ORDER BY p0.username_key {tail}", params

    def page_statement(self, offset: int, limit: int) -> Statement:
        """The statement of the page's ids from `offset`, in username order (after count())."""
        tail = f"LIMIT {int(limit)} OFFSET {int(offset)}"
        if self.short or (self.many and is_short((self.driver[0][:PREFIX_LENGTH], self.driver[1][:PREFIX_LENGTH]))):
            statement = self._entries_statement("p0.user_id", tail)
        else:
            statement = columns_page_statement(self.words, self.status, offset, limit)
        self.statements.append(statement)
        return statement

    def page_ids(self, offset: int, limit: int) -> list[int]:
        """The ids of the page from `offset`, in username order (after count())."""
        return [row[0] for row in self.db.execute_sql(*self.page_statement(offset, limit)).fetchall()]
