"""Finding people: by login, by id, counts, groups, and the people search that stays fast at
100,000 accounts on SQLite and a million on PostgreSQL (prefix matches answered from
indexes; PostgreSQL's statements are in search_postgres)."""
from __future__ import annotations

import unicodedata

from peewee import OP, SQL, Expression, NodeList, PostgresqlDatabase, SqliteDatabase, fn

from ..errors import NotFound
from ..models import User, database
from . import search_postgres
from .rules import keyed_names, normalise

def find_user_by_login(login: str) -> User | None:
    """The user whose username or email is `login` (case-insensitive)."""
    if not isinstance(login, str) or not login or len(login) > 320:
        return None
    key = normalise(login.strip())
    if "@" in key:
        return User.get_or_none(User.email_key == key)
    return User.get_or_none(User.username_key == key)


def get_user(user_id) -> User:
    try:
        user_id = int(user_id)
    except (TypeError, ValueError):
        user_id = 0
    # Beyond 64 bits the database driver would fail rather than find nothing.
    user = User.get_or_none(User.id == user_id) if 0 < user_id < 2**63 else None
    if user is None:
        raise NotFound("No such person.")
    return user


def find_people_named(usernames) -> tuple[list[User], list[str]]:
    """The people `usernames` name (compared as logins are), in the order named and each
    once, and the names nobody has."""
    keys = keyed_names(usernames)
    by_key = {u.username_key: u for u in User.select().where(User.username_key.in_(list(keys)))} if keys else {}
    return [by_key[k] for k in keys if k in by_key], [n for k, n in keys.items() if k not in by_key]


def user_count() -> int:
    """How many people there are: one row kept exact by triggers (m0008_people_count)."""
    row = database.execute_sql("SELECT n FROM people_count WHERE id = 1").fetchone()
    return row[0] if row else User.select().count()


def administrator_count() -> int:
    return User.select().where(User.role == "administrator").count()


def groups_of(user: User) -> list[str]:
    """Names of the person's groups, in name order. On the /users/me path: one compiled
    query that also reads the groups' roles, kept for the request's permission checks."""
    from ..authorization.membership import group_names_and_roles
    return list(group_names_and_roles(user.id)[0])


SEARCH_TERMS_MAX = 4


def _starts_with(column, needle: str):
    """`column` begins with `needle`, in a form the database answers from an index
    (app/migrations/m0002_people_search.py): a range on SQLite, whose text order is the
    code-point order, and LIKE 'needle%' elsewhere."""
    if isinstance(database.obj, SqliteDatabase):
        return (column >= needle) & (column < needle + "\U0010ffff")
    # Backslash is LIKE's default escape character on PostgreSQL and MySQL.
    escaped = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return Expression(column, OP.LIKE, escaped + "%")


def _name_needle(term: str) -> str:
    """A search term as lower() in the database folds a name: SQLite's lower() folds ASCII
    letters only, so non-ASCII letters must be typed in the case they are stored in."""
    if isinstance(database.obj, SqliteDatabase):
        return term.translate(_ASCII_LOWER)
    return term.lower()


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def _search_words(q: str) -> list[tuple[str, str]]:
    """The words of `q` (at most SEARCH_TERMS_MAX), each as (the needle for usernames and
    emails, the needle for names)."""
    # NUL cannot be sent to PostgreSQL and matches nothing anywhere.
    words = unicodedata.normalize("NFKC", (q or "").replace("\x00", "")).split()[:SEARCH_TERMS_MAX]
    return [(normalise(word), _name_needle(word)) for word in words]


def _search_condition(q: str):
    """Each word of `q` begins the username, the email address, the first or the last name
    (so "grace hop" finds Grace Hopper); None for an empty search."""
    condition = None
    for key, name in _search_words(q):
        term = (_starts_with(User.username_key, key) | _starts_with(User.email_key, key)
                | _starts_with(fn.lower(User.first_name), name)
                | _starts_with(fn.lower(User.last_name), name))
        condition = term if condition is None else (condition & term)
    return condition


def _filter(q: str, status: str | None):
    condition = _search_condition(q or "")
    if status is not None:
        condition = (User.status == status) if condition is None else (condition & (User.status == status))
    return condition


def _on_postgres() -> bool:
    return isinstance(database.obj, PostgresqlDatabase)


def _username_order():
    """The page order: by username key in code-point order, on SQLite (its text order) and
    on PostgreSQL whatever the database's collation (the "C" collation)."""
    if _on_postgres():
        return NodeList((User.username_key, SQL('COLLATE "C"')))
    return User.username_key


def page_ids_query(q: str = "", page: int = 1, per_page: int = 50, status: str | None = None):
    """The ids of one page of people matching `q`, by username (one condition over the
    four columns: SQLite's form, and PostgreSQL's without search words)."""
    ids = User.select(User.id).order_by(_username_order())
    condition = _filter(q, status)
    if condition is not None:
        ids = ids.where(condition)
    return ids.paginate(page, per_page)


COUNT_CAP = 10_000


class SearchTotal(int):
    """How many people a search matches: exact up to COUNT_CAP; beyond it the count stops
    at COUNT_CAP and `capped` is true (the API's `total_capped`, "10,000+" on pages)."""

    capped: bool = False

    def __new__(cls, n: int, capped: bool = False):
        total = super().__new__(cls, n)
        total.capped = capped
        return total

    def __str__(self) -> str:
        return f"{int(self)}+" if self.capped else str(int(self))


def count_query(q: str = "", status: str | None = None):
    """The statement counting the people matching `q`, reading at most COUNT_CAP + 1 of
    them: a common prefix matches hundreds of thousands of people at a million, and an
    exact count of those would read as many index entries (or rows) on every search."""
    condition = _filter(q, status)
    matches = User.select(User.id)
    if condition is not None:
        matches = matches.where(condition)
    return User.select(fn.COUNT(SQL("*"))).from_(matches.limit(COUNT_CAP + 1).alias("matches"))


def search_users(q: str = "", page: int = 1, per_page: int = 50, status: str | None = None):
    """A page of people (by username) matching `q`, and how many match in all (a
    SearchTotal: exact up to COUNT_CAP); `status` keeps only people in that sign-up
    approval state (active, pending, rejected).

    Two statements whatever the number of people: the count and the page, both answered
    from indexes (on PostgreSQL, see search_postgres). A search matches the beginning of
    the username, email, first or last name."""
    words = _search_words(q)
    if words and _on_postgres():
        search = search_postgres.Search(database, words, status, COUNT_CAP)
        n = search.count()
        total = SearchTotal(min(n, COUNT_CAP), capped=n > COUNT_CAP)
        sql, params = search.page_statement(max(page - 1, 0) * per_page, per_page)
        page_ids = SQL(f"({sql})", params)
    else:
        if _filter(q, status) is None:
            total = SearchTotal(user_count())  # exact: a counter kept by triggers
        else:
            n = count_query(q, status).scalar()
            total = SearchTotal(min(n, COUNT_CAP), capped=n > COUNT_CAP)
        page_ids = page_ids_query(q, page, per_page, status)
    # The page's ids come from indexes alone (skipping to a later page reads index
    # entries, not rows); only the page's own rows are then loaded, in the same statement.
    return list(User.select().where(User.id.in_(page_ids)).order_by(_username_order())), total
