"""SQL queries per authenticated API GET (issue 7's target: at most 2).

Every API call takes the token -> user path, so its query count is a budget. The count is
taken where the database executes SQL: `execute_sql` of the app's peewee Database is
wrapped to count calls and then run as usual (counting, not changing behaviour). One
request warms up first, so start-up work (migrations, compiled queries, the connection's
pragmas) does not count.
"""
from __future__ import annotations

import contextlib

from conftest import STRONG_PASSWORD

API = "/api/v1"
MAX_QUERIES_PER_AUTHENTICATED_GET = 2


@contextlib.contextmanager
def counting_queries(app):
    """Yield a list that collects the SQL the app's database executes meanwhile."""
    db = app.extensions["keystead.db"]
    executed: list[str] = []
    original = db.execute_sql

    def execute_sql(sql, params=None, *args, **kwargs):
        executed.append(sql)
        return original(sql, params, *args, **kwargs)

    db.execute_sql = execute_sql  # an instance attribute shadows the method
    try:
        yield executed
    finally:
        del db.execute_sql


def _access_token(client, users) -> str:
    users.create("querycount", password=STRONG_PASSWORD)
    r = client.post(f"{API}/auth/login", json={"username": "querycount", "password": STRONG_PASSWORD})
    assert r.status_code == 200, r.get_data(as_text=True)
    return r.get_json()["access_token"]


def test_authenticated_api_get_runs_at_most_two_queries(app, client, users):
    token = _access_token(client, users)
    headers = {"Authorization": f"Bearer {token}"}
    warm = client.get(f"{API}/users/me", headers=headers)
    assert warm.status_code == 200, warm.get_data(as_text=True)

    with counting_queries(app) as executed:
        r = client.get(f"{API}/users/me", headers=headers)
    assert r.status_code == 200
    assert r.get_json()["username"] == "querycount"
    assert 0 < len(executed) <= MAX_QUERIES_PER_AUTHENTICATED_GET, (
        f"{len(executed)} queries for one authenticated GET:\n" + "\n".join(executed))


def test_a_badly_signed_token_costs_no_query(app, client, users):
    """The signature is checked before the database is asked."""
    token = _access_token(client, users)
    with counting_queries(app) as executed:
        r = client.get(f"{API}/users/me", headers={"Authorization": f"Bearer {token}x"})
    assert r.status_code in (401, 404)
    if r.status_code == 401:
        assert executed == [], executed
