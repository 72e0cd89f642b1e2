"""The audit log (SPEC 9): every event with actor, target, time, client and outcome,
written in the same transaction as its change; the page, its chart and CSV; the API."""
import csv
import io

import pytest
from peewee import OperationalError

from api_support import assert_error, bearer, in_db, login
from keystead import accounts, hookimpl
from keystead.audit.models import AuditEvent
from conftest import STRONG_PASSWORD, UserFactory


def events(app, **where):
    def fetch():
        q = AuditEvent.select().order_by(AuditEvent.id)
        for field, value in where.items():
            q = q.where(getattr(AuditEvent, field) == value)
        return list(q)
    return in_db(app, fetch)


def test_logins_and_failures_are_recorded_with_client_and_outcome(app, client, users):
    users.create("ada")
    login(client, "ada")
    client.post("/api/v1/auth/login", json={"username": "ada", "password": "Wrong-Secret-123"},
                environ_base={"REMOTE_ADDR": "198.51.100.23"})
    ok = events(app, event="login")[-1]
    assert ok.actor_name == "ada" and ok.target_name == "ada" and ok.outcome == "success"
    assert ok.client == "127.0.0.1" and ok.created_at is not None
    failed = events(app, event="login_failed")[-1]
    assert failed.outcome == "failure" and failed.client == "198.51.100.23"
    assert "ada" in failed.details


def test_secrets_never_reach_the_audit_log(app, client, users):
    users.create("ada")
    client.post("/api/v1/auth/login", json={"username": "ada", "password": "Wrong-Secret-123"})
    pair = login(client, "ada")
    client.post("/api/v1/users/me/password", headers=bearer(pair["access_token"]),
                json={"current_password": STRONG_PASSWORD, "new_password": "Another-Long-Secret-456"})
    everything = " ".join(f"{e.details} {e.actor_name} {e.target_name}" for e in events(app))
    for secret in ("Wrong-Secret-123", STRONG_PASSWORD, "Another-Long-Secret-456", pair["access_token"]):
        assert secret not in everything
    assert "password_change" in [e.event for e in events(app)]


def test_the_client_address_honours_trusted_proxies(make_app):
    for trusted, expected in ((0, "127.0.0.1"), (1, "203.0.113.50")):
        app = make_app({"Server.TrustedProxies": trusted})
        UserFactory(app).create(f"ada{trusted}")
        r = app.test_client().post("/api/v1/auth/login", json={"username": f"ada{trusted}", "password": STRONG_PASSWORD},
                                   headers={"X-Forwarded-For": "203.0.113.50"})
        assert r.status_code == 200
        assert events(app, event="login")[-1].client == expected


def test_role_change_lock_and_deletion_name_actor_and_target(app, users):
    admin, _ = users.create("boss", role="administrator")
    person, _ = users.create("pat")
    with app.test_request_context():
        accounts.set_role(person, "publisher", actor=admin)
        accounts.set_locked(accounts.get_user(person.id), True, actor=admin)
        accounts.delete_user(accounts.get_user(person.id), actor=admin)
    kinds = [(e.event, e.actor_name, e.target_name) for e in events(app, target_id=person.id)]
    assert kinds[-3:] == [("role_change", "boss", "pat"), ("lock", "boss", "pat"), ("user_delete", "boss", "pat")]
    # the trail outlives the person
    assert events(app, event="user_delete")[-1].target_name == "pat"


class FailingAfterAudit:
    """Fails the transaction after the audit plugin has written its row, as a database
    error between the two writes would."""

    @hookimpl(trylast=True)
    def keystead_event(self, event, actor, target, outcome, details):
        if event == "role_change":
            raise OperationalError("disk I/O error")


def test_a_failure_after_the_audit_write_leaves_neither_change_nor_entry(make_app):
    app = make_app(plugins=[FailingAfterAudit()])
    users = UserFactory(app)
    admin, _ = users.create("boss", role="administrator")
    person, _ = users.create("pat")
    with app.test_request_context():
        with pytest.raises(OperationalError):
            accounts.set_role(person, "publisher", actor=admin)
        assert accounts.get_user(person.id).role == "viewer"
    assert events(app, event="role_change") == []


def test_a_failing_audit_write_leaves_no_change(app, users):
    admin, _ = users.create("boss", role="administrator")
    person, _ = users.create("pat")
    db = app.extensions["keystead.db"]
    with app.test_request_context():
        db.execute_sql('ALTER TABLE audit_event RENAME TO audit_event_gone')
        try:
            with pytest.raises(Exception):
                accounts.set_role(person, "publisher", actor=admin)
        finally:
            db.execute_sql('ALTER TABLE audit_event_gone RENAME TO audit_event')
        assert accounts.get_user(person.id).role == "viewer"


def test_api_filters_and_pages(app, client, users):
    users.create("boss", role="administrator")
    users.create("ada")
    for _ in range(3):
        client.post("/api/v1/auth/login", json={"username": "ada", "password": "nope-nope-nope"})
    token = login(client, "boss")["access_token"]
    r = client.get("/api/v1/audit?event=login_failed&per_page=2", headers=bearer(token))
    assert r.status_code == 200
    body = r.get_json()
    assert body["total"] == 3 and body["per_page"] == 2 and len(body["results"]) == 2
    assert {e["event"] for e in body["results"]} == {"login_failed"}
    r = client.get("/api/v1/audit?actor=boss", headers=bearer(token)).get_json()
    assert r["total"] >= 1 and all(e["actor"]["username"] == "boss" for e in r["results"])
    assert client.get("/api/v1/audit?since=2000-01-01&until=2000-01-31", headers=bearer(token)).get_json()["total"] == 0
    assert_error(client.get("/api/v1/audit?since=yesterday", headers=bearer(token)), 422)
    assert_error(client.get("/api/v1/audit?event=coffee", headers=bearer(token)), 422)
    assert_error(client.get("/api/v1/audit?per_page=0", headers=bearer(token)), 422)


def test_api_is_for_administrators_only(client, users):
    users.create("boss", role="administrator")
    users.create("ada")
    assert_error(client.get("/api/v1/audit"), 401)
    assert_error(client.get("/api/v1/audit", headers=bearer(login(client, "ada")["access_token"])), 403)


def test_page_shows_events_and_a_chart_of_logins(client, users, auth):
    users.create("boss", role="administrator")
    client.post("/api/v1/auth/login", json={"username": "boss", "password": "not-it-at-all"})
    auth.login("boss")
    html = client.get("/admin/audit").get_data(as_text=True)
    assert "<svg" in html and 'class="bar-logins"' in html and 'class="bar-failures"' in html
    assert "1 failed logins" in html and "login_failed" in html
    assert "<script" not in html
    filtered = client.get("/admin/audit?event=login_failed").get_data(as_text=True)
    assert "<td>login_failed</td>" in filtered and "<td>login</td>" not in filtered


def test_page_is_for_administrators_only(client, users, auth):
    users.create("ada")
    auth.login("ada")
    assert client.get("/admin/audit").status_code == 403
    assert client.get("/admin/audit.csv").status_code == 403


def test_csv_download_streams_every_matching_event(app, client, users, auth):
    users.create("boss", role="administrator")
    for n in range(5):
        client.post("/api/v1/auth/login", json={"username": f"=HYPERLINK(x{n})", "password": "nope-nope-nope"})
    auth.login("boss")
    r = client.get("/admin/audit.csv?event=login_failed")
    assert r.status_code == 200 and r.mimetype == "text/csv" and r.is_streamed
    rows = list(csv.reader(io.StringIO(r.get_data(as_text=True))))
    assert rows[0] == ["time", "event", "outcome", "actor", "target", "client", "details"]
    assert len(rows) == 6 and {row[1] for row in rows[1:]} == {"login_failed"}
    assert all(not row[6].startswith("=") for row in rows[1:])


@pytest.mark.parametrize("start", ["=", "+", "-", "@"])
def test_every_cell_a_person_or_client_chose_is_quoted_against_spreadsheet_formulas(make_app, start):
    """Issue 18: a name and a client address (behind a trusted proxy, whatever
    X-Forwarded-For said) that start like a formula are written with a leading apostrophe,
    in every column, so opening the CSV in a spreadsheet runs nothing."""
    from conftest import csrf_from
    app = make_app({"Server.TrustedProxies": 1})
    UserFactory(app).create("boss", role="administrator")
    client = app.test_client()
    payload = f"{start}HYPERLINK(1)"
    r = client.post("/api/v1/auth/login", json={"username": payload, "password": "nope-nope-nope"},
                    headers={"X-Forwarded-For": payload})
    assert r.status_code == 401
    page = client.get("/login").get_data(as_text=True)
    client.post("/login", data={"csrf_token": csrf_from(page), "username": "boss", "password": STRONG_PASSWORD})
    rows = list(csv.reader(io.StringIO(client.get("/admin/audit.csv?event=login_failed").get_data(as_text=True))))
    header, [row] = rows[0], rows[1:]
    assert row[header.index("client")] == "'" + payload
    assert all(not cell.startswith(start) for cell in row), row


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_each_chosen_column_is_quoted_whatever_the_row_holds(app, client, users, auth, start):
    """Issue 18: the actor, target, client and details columns are each quoted on their
    own, whatever wrote the row (a plugin's event names whatever actor it likes; the details
    of today's events start with "{", an older or a plugin's row need not)."""
    users.create("boss", role="administrator")
    payload = f"{start}HYPERLINK(1)"
    columns = {"actor": "actor_name", "target": "target_name", "client": "client", "details": "details"}
    in_db(app, lambda: [AuditEvent.create(event="login_failed", outcome="failure", **{field: payload})
                        for field in columns.values()])
    auth.login("boss")
    rows = list(csv.reader(io.StringIO(client.get("/admin/audit.csv?event=login_failed").get_data(as_text=True))))
    header, body = rows[0], rows[1:]
    assert len(body) == len(columns)
    for column in columns:
        cells = [row[header.index(column)] for row in body]
        assert "'" + payload in cells, (column, cells)
        assert not any(cell.startswith(start) for cell in cells), (column, cells)


def test_csv_reads_in_chunks(app, users):
    from keystead.audit.service import csv_rows, filtered
    users.create("ada")
    with app.test_request_context():
        for n in range(7):
            AuditEvent.create(event="login", outcome="success", actor_name=f"p{n}")
        chunks = list(csv_rows(filtered(event="login"), chunk=3))
    assert len(chunks) == 1 + 3  # the header, then 3 + 3 + 1 rows
    assert sum(chunk.count("\n") for chunk in chunks) == 8
