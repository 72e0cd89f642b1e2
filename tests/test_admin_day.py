"""An administrator's day (issue 13 items 9-12): sign-ups confirmed without mail, deleting
a person with their documents (or handing them on), documents in the audit log, and the
audit person filter for names in any script. Through the test client, the CLI runner and
the API, on a real database (SQLite, or PostgreSQL with KEYSTEAD_TEST_POSTGRES_URL)."""
from __future__ import annotations

import io
import re
from urllib.parse import urlsplit

import pytest

from api_support import API, assert_error, bearer, in_db, login, users_of
from keystead.audit.models import AuditEvent
from keystead.documents.models import Document, DocumentShare
from keystead.models import User
from conftest import STRONG_PASSWORD, AuthActions, csrf_from
from documents_support import make_group
from pages import error_beside, flashes


def text(response) -> str:
    return response.get_data(as_text=True)


def act(client, path: str, data: dict | None = None, page: str | None = None):
    """POST `data` to `path` with the CSRF token of `page` (default: the path's own page)."""
    html = text(client.get(page or path))
    return client.post(path, data={"csrf_token": csrf_from(html), **(data or {})})


def people_row(html: str, username: str) -> list[str]:
    """The cells of `username`'s row in the people list, as text."""
    body = re.search(r'<table id="people">.*?<tbody>(.*?)</tbody>', html, re.S).group(1)
    for tr in re.findall(r"<tr>(.*?)</tr>", body, re.S):
        cells = [" ".join(re.sub(r"<[^>]+>", " ", td).split())
                 for td in re.findall(r"<td[^>]*>(.*?)</td>", tr, re.S)]
        if cells and cells[0] == username:
            return cells
    raise AssertionError(f"{username} is not in the list")


def fact(html: str, element_id: str) -> str:
    m = re.search(rf'<dd id="{element_id}"[^>]*>(.*?)</dd>', html, re.S)
    assert m, f"no #{element_id} on the page"
    return " ".join(re.sub(r"<[^>]+>", " ", m.group(1)).split())


def copied_link(html: str, element_id: str) -> str | None:
    m = re.search(rf'<p class="copy" id="{element_id}">([^<]+)</p>', html)
    return m.group(1).strip() if m else None


def audit(client, headers, **params) -> list[dict]:
    r = client.get(f"{API}/audit", query_string={"per_page": 200, **params}, headers=headers)
    assert r.status_code == 200, text(r)
    return r.get_json()["results"]


# ---------------------------------------------------------------- item 9: verification without mail

@pytest.fixture
def no_mail_app(make_app):
    """RequireEmailVerification on, no mail server; "root" administers, "grace" signed up."""
    app = make_app({"Password.RequireEmailVerification": True})
    users_of(app).create("root", role="administrator")
    r = app.test_client().post(f"{API}/auth/register", json={
        "username": "grace", "email": "grace@example.com", "password": STRONG_PASSWORD})
    assert r.status_code == 201 and r.get_json()["verification_email_sent"] is False
    app.grace_id = r.get_json()["id"]
    return app


@pytest.fixture
def admin_browser(no_mail_app):
    client = no_mail_app.test_client()
    AuthActions(client).login("root")
    return client


def grace_logs_in(app) -> int:
    return app.test_client().post(f"{API}/auth/login", json={
        "username": "grace", "password": STRONG_PASSWORD}).status_code


def test_an_unverified_sign_up_shows_email_not_verified_on_the_person_page_and_in_the_list(
        no_mail_app, admin_browser):
    """Issue 13 item 9: the people list and the person's page say "email not verified"
    (not "active") for a sign-up that cannot log in until its address is verified, and the
    page offers a verification link to copy and "Mark verified"."""
    assert grace_logs_in(no_mail_app) == 403  # email_not_verified
    row = people_row(text(admin_browser.get("/admin/people")), "grace")
    assert row[4] == "email not verified"
    assert people_row(text(admin_browser.get("/admin/people")), "root")[4] == "active"
    page = text(admin_browser.get(f"/admin/people/{no_mail_app.grace_id}"))
    assert fact(page, "status") == "email not verified"
    assert "(email not verified)" in fact(page, "email")
    assert "grace cannot log in until it is" in page
    assert "Copy a verification link" in page and "Mark verified" in page


def test_a_copied_verification_link_lets_the_sign_up_log_in(no_mail_app, admin_browser):
    """Issue 13 item 9: "Copy a verification link" shows a fresh link on the page (no mail
    configured); following it verifies the address and grace logs in; the page then shows
    her as active without the verification actions."""
    grace = no_mail_app.grace_id
    r = act(admin_browser, f"/admin/people/{grace}/verification-link", page=f"/admin/people/{grace}")
    assert r.status_code == 303
    page = text(admin_browser.get(f"/admin/people/{grace}"))
    assert any("verification link has been made" in f for f in flashes(page))
    link = copied_link(page, "verification-link")
    assert link and link.startswith("http://keystead.test/verify-email/")
    assert grace_logs_in(no_mail_app) == 403
    assert no_mail_app.test_client().get(urlsplit(link).path).status_code == 200  # the browser page
    assert grace_logs_in(no_mail_app) == 200
    page = text(admin_browser.get(f"/admin/people/{grace}"))
    assert fact(page, "status") == "active" and "(verified)" in fact(page, "email")
    assert "Mark verified" not in page and copied_link(page, "verification-link") is None


def test_the_api_makes_a_verification_link_for_an_administrator(no_mail_app):
    """Issue 13 item 9: POST /users/{id}/verification-link returns a fresh link (not mailed:
    no mail server) that verifies the address; then 409 already_verified; administrators only."""
    client = no_mail_app.test_client()
    h = bearer(login(client, "root")["access_token"])
    r = client.post(f"{API}/users/{no_mail_app.grace_id}/verification-link", headers=h)
    assert r.status_code == 200, text(r)
    body = r.get_json()
    assert body["sent"] is False and body["expires_in"] == 24 * 3600
    token = body["verification_url"].rsplit("/", 1)[1]
    assert client.post(f"{API}/auth/verify-email", json={"token": token}).status_code == 200
    assert grace_logs_in(no_mail_app) == 200
    assert_error(client.post(f"{API}/users/{no_mail_app.grace_id}/verification-link", headers=h),
                 409, "already_verified")
    users_of(no_mail_app).create("vera")
    viewer = bearer(login(client, "vera")["access_token"])
    assert_error(client.post(f"{API}/users/{no_mail_app.grace_id}/verification-link", headers=viewer), 403)


def test_mark_verified_lets_the_sign_up_log_in_and_is_audited(no_mail_app, admin_browser):
    """Issue 13 item 9: "Mark verified" on the page verifies the address at once (grace logs
    in) and records email_marked_verified with the administrator as actor, readable in the
    audit log; the API's PATCH email_verified: true records the same event."""
    grace = no_mail_app.grace_id
    r = act(admin_browser, f"/admin/people/{grace}/mark-verified", page=f"/admin/people/{grace}")
    assert r.status_code == 303
    page = text(admin_browser.get(f"/admin/people/{grace}"))
    assert "The address grace@example.com of grace is marked verified." in flashes(page)
    assert fact(page, "status") == "active"
    assert grace_logs_in(no_mail_app) == 200
    client = no_mail_app.test_client()
    h = bearer(login(client, "root")["access_token"])
    marked = audit(client, h, event="email_marked_verified")
    assert [(e["actor"]["username"], e["target"]["username"], e["details"]["email"]) for e in marked] == [
        ("root", "grace", "grace@example.com")]

    # The API's way, for someone else.
    r = client.post(f"{API}/auth/register", json={"username": "hedy", "email": "hedy@example.com",
                                                  "password": STRONG_PASSWORD})
    hedy = r.get_json()["id"]
    r = client.patch(f"{API}/users/{hedy}", json={"email_verified": True}, headers=h)
    assert r.status_code == 200 and r.get_json()["email_verified"] is True
    assert [e["target"]["username"] for e in audit(client, h, event="email_marked_verified")] == ["hedy", "grace"]


def test_the_cli_prints_a_verification_link_and_marks_verified(no_mail_app):
    """Issue 13 item 9: `users verification-link` prints a link that verifies the address;
    `users mark-verified` vouches for another sign-up's address (audited); both refuse an
    address already verified in one line with exit 1."""
    runner = no_mail_app.test_cli_runner()
    r = runner.invoke(args=["users", "verification-link", "grace"])
    assert r.exit_code == 0, r.output
    url = re.search(r"http://keystead\.test/verify-email/\S+", r.output).group(0)
    client = no_mail_app.test_client()
    assert client.post(f"{API}/auth/verify-email", json={"token": url.rsplit("/", 1)[1]}).status_code == 200
    assert grace_logs_in(no_mail_app) == 200
    r = runner.invoke(args=["users", "verification-link", "grace"])
    assert r.exit_code == 1 and r.output.count("\n") == 1 and "already verified" in r.output

    client.post(f"{API}/auth/register", json={"username": "hedy", "email": "hedy@example.com",
                                              "password": STRONG_PASSWORD})
    r = runner.invoke(args=["users", "mark-verified", "hedy"])
    assert r.exit_code == 0 and "hedy@example.com of hedy is marked verified" in r.output
    assert client.post(f"{API}/auth/login", json={"username": "hedy", "password": STRONG_PASSWORD}).status_code == 200
    rows = in_db(no_mail_app, lambda: [(e.actor_name, e.target_name) for e in AuditEvent.select().where(
        AuditEvent.event == "email_marked_verified")])
    assert rows == [(None, "hedy")]


# ---------------------------------------------------------------- item 10: deleting a person's documents

@pytest.fixture
def owners(app, client, users):
    """root (administrator), alice with two documents (one shared with "team"), bob
    (publishers: since issue 14 viewers no longer upload)."""
    people = {name: users.create(name, role="administrator" if name == "root" else "publisher")[0]
              for name in ("root", "alice", "bob")}
    h = {name: bearer(login(client, name)["access_token"]) for name in people}
    team = make_group(app, "team", [people["alice"], people["bob"]])
    docs = []
    for title in ("Plans", "Minutes"):
        r = client.post(f"{API}/documents", json={"title": title, "content": f"{title} of the team."},
                        headers=h["alice"])
        assert r.status_code == 201
        docs.append(r.get_json()["id"])
    assert client.put(f"{API}/documents/{docs[1]}/groups/{team.id}", headers=h["alice"]).status_code == 204
    return {"people": people, "h": h, "team": team, "docs": docs}


def owned_titles(app, user_id: int) -> list[str]:
    return in_db(app, lambda: sorted(d.title for d in Document.select().where(Document.owner == user_id)))


def test_deleting_a_person_says_their_documents_go_too_everywhere(app, client, runner, auth, owners):
    """Issue 13 item 10: the delete page (with how many documents and how many are shared),
    the person's page, the API description of DELETE /users/{id} and /users/me, the
    profile's delete page and `users delete --help` all say the documents are deleted."""
    alice = owners["people"]["alice"]
    auth.login("root")
    page = text(client.get(f"/admin/people/{alice.id}/delete"))
    warning = " ".join(re.sub(r"<[^>]+>", " ", re.search(
        r'id="documents-warning"[^>]*>(.*?)</p>', page, re.S).group(1)).split())
    assert "alice owns 2 documents, 1 of them shared with groups." in warning
    assert "deletes them too" in warning and "give them to someone else" in warning
    assert 'name="transfer_to"' in page
    assert "their documents (those shared with groups too)" in text(client.get(f"/admin/people/{alice.id}"))
    doc = client.get(f"{API}/openapi.json").get_json()
    delete = doc["paths"]["/users/{id}"]["delete"]
    assert "documents" in delete["description"] and "transfer_to" in delete["description"]
    assert "transfer_to" in [p["name"] for p in delete["parameters"]]
    assert "documents are deleted too" in doc["paths"]["/users/me"]["delete"]["description"]
    help_text = runner.invoke(args=["users", "delete", "--help"]).output
    assert "documents" in help_text and "--transfer-to" in help_text
    auth.logout()
    auth.login("alice")
    assert "your documents, those shared with" in text(client.get("/profile/delete"))


def test_the_api_hands_the_documents_to_another_person_on_delete(app, client, owners):
    """Issue 13 item 10: DELETE /users/{id}?transfer_to=<id> gives the documents (shares
    kept: the group still reads them) to that person; a bad transfer_to is 422 naming it
    and deletes nothing; without it the documents are deleted."""
    alice, bob = owners["people"]["alice"], owners["people"]["bob"]
    h = owners["h"]
    for bad in ("999999", "bob", str(alice.id)):
        e = assert_error(client.delete(f"{API}/users/{alice.id}?transfer_to={bad}", headers=h["root"]), 422)
        assert "transfer_to" in e["fields"]
    assert owned_titles(app, alice.id) == ["Minutes", "Plans"]
    assert client.delete(f"{API}/users/{alice.id}?transfer_to={bob.id}", headers=h["root"]).status_code == 204
    assert owned_titles(app, bob.id) == ["Minutes", "Plans"]
    shared = client.get(f"{API}/documents/{owners['docs'][1]}", headers=h["bob"]).get_json()
    assert shared["owner"]["username"] == "bob" and shared["groups"] == [{"id": owners["team"].id, "name": "team"}]
    deleted = audit(client, h["root"], event="user_delete")[0]
    assert deleted["details"]["documents"] == 2 and deleted["details"]["documents_to"] == "bob"
    # Without transfer_to they go with their owner.
    assert client.delete(f"{API}/users/{bob.id}", headers=h["root"]).status_code == 204
    assert in_db(app, lambda: (Document.select().count(), DocumentShare.select().count())) == (0, 0)


def test_the_page_and_the_cli_hand_the_documents_on(app, client, runner, auth, owners, users):
    """Issue 13 item 10: the delete page's "Give their documents to" field and `users delete
    --transfer-to` hand the documents over; an unknown person is refused beside the field /
    in one line with exit 1, and nobody is deleted."""
    alice, bob = owners["people"]["alice"], owners["people"]["bob"]
    auth.login("root")
    r = act(client, f"/admin/people/{alice.id}/delete", {"confirm": "y", "transfer_to": "nobody-here"})
    assert r.status_code == 422 and "nobody-here" in error_beside(text(r), "transfer_to")
    assert owned_titles(app, alice.id) == ["Minutes", "Plans"]
    r = act(client, f"/admin/people/{alice.id}/delete", {"confirm": "y", "transfer_to": "BOB"})
    assert r.status_code == 303
    assert "alice has been deleted; their documents now belong to bob." in flashes(text(client.get("/admin/people")))
    assert owned_titles(app, bob.id) == ["Minutes", "Plans"]

    carol = users.create("carol")[0]
    r = runner.invoke(args=["users", "delete", "bob", "--transfer-to", "nobody-here", "--yes"])
    assert r.exit_code == 1 and "nobody-here" in r.output
    assert owned_titles(app, bob.id) == ["Minutes", "Plans"]
    r = runner.invoke(args=["users", "delete", "bob", "--transfer-to", "carol"], input="y\n")
    assert r.exit_code == 0, r.output
    assert "Their 2 documents go to carol." in r.output
    assert "bob has been deleted.\nTheir 2 documents now belong to carol." in r.output
    assert owned_titles(app, carol.id) == ["Minutes", "Plans"]
    assert in_db(app, lambda: User.get_or_none(User.id == bob.id)) is None


# ---------------------------------------------------------------- item 11: documents in the audit log

def test_uploads_shares_unshares_and_deletions_are_audited(app, client, owners):
    """Issue 13 item 11: every document change is in the audit log with its actor, the
    owner as target and the document (and group); an administrator acting on someone
    else's document shows as actor with the owner as target. A repeated share or unshare
    (no change) records nothing more."""
    h, team, docs = owners["h"], owners["team"], owners["docs"]
    root_h = h["root"]
    uploads = audit(client, root_h, event="document_upload")
    assert sorted((e["actor"]["username"], e["target"]["username"], e["details"]["title"]) for e in uploads) == [
        ("alice", "alice", "Minutes"), ("alice", "alice", "Plans")]
    share = audit(client, root_h, event="document_share")
    assert [(e["actor"]["username"], e["details"]["document_id"], e["details"]["group"]) for e in share] == [
        ("alice", docs[1], "team")]
    assert client.put(f"{API}/documents/{docs[1]}/groups/{team.id}", headers=h["alice"]).status_code == 204
    assert len(audit(client, root_h, event="document_share")) == 1
    for _ in range(2):
        assert client.delete(f"{API}/documents/{docs[1]}/groups/{team.id}", headers=h["alice"]).status_code == 204
    unshare = audit(client, root_h, event="document_unshare")
    assert [(e["actor"]["username"], e["target"]["username"], e["details"]["group_id"]) for e in unshare] == [
        ("alice", "alice", team.id)]
    # The administrator deletes alice's document; alice deletes her own.
    assert client.delete(f"{API}/documents/{docs[0]}", headers=root_h).status_code == 204
    assert client.delete(f"{API}/documents/{docs[1]}", headers=h["alice"]).status_code == 204
    deletions = audit(client, root_h, event="document_delete")
    assert [(e["actor"]["username"], e["target"]["username"], e["details"]["title"]) for e in deletions] == [
        ("alice", "alice", "Minutes"), ("root", "alice", "Plans")]
    # Filtering on alice finds the administrator's action on her document.
    assert "document_delete" in {e["event"] for e in audit(client, root_h, person="alice", event="document_delete")}


def test_a_document_uploaded_on_the_page_is_audited_and_a_refused_one_is_not(app, client, auth, users):
    """Issue 13 item 11: the /documents page's upload records document_upload; a refused
    upload stores nothing and records nothing."""
    users.create("root", role="administrator")
    users.create("dora", role="publisher")  # viewers no longer upload (issue 14)
    auth.login("dora")
    r = client.post("/documents", data={
        "csrf_token": csrf_from(text(client.get("/documents"))),
        "file": (io.BytesIO(b"Notes of the meeting."), "notes.txt")}, content_type="multipart/form-data")
    assert r.status_code == 303
    r = client.post("/documents", data={
        "csrf_token": csrf_from(text(client.get("/documents"))),
        "file": (io.BytesIO(b"\x00\x01\x02binary"), "blob.bin")}, content_type="multipart/form-data")
    assert r.status_code >= 400
    rows = in_db(app, lambda: [(e.actor_name, e.target_name) for e in
                               AuditEvent.select().where(AuditEvent.event == "document_upload")])
    assert rows == [("dora", "dora")]


def test_a_document_event_is_written_in_the_same_transaction_as_the_change(make_app):
    """Issue 13 item 11: when recording the event fails, the deletion does not happen."""
    from peewee import OperationalError

    from keystead import hookimpl

    class FailingOnDocumentDelete:
        @hookimpl(trylast=True)
        def keystead_event(self, event, actor, target, outcome, details):
            if event == "document_delete":
                raise OperationalError("disk I/O error")

    app = make_app(plugins=[FailingOnDocumentDelete()])
    users_of(app).create("dora", role="publisher")  # viewers no longer upload (issue 14)
    client = app.test_client()
    h = bearer(login(client, "dora")["access_token"])
    doc = client.post(f"{API}/documents", json={"title": "Keep", "content": "Still here."}, headers=h).get_json()
    with app.test_request_context():
        from keystead.documents import service
        with app.extensions["keystead.db"].connection_context():
            dora = User.get(User.username_key == "dora")
            with pytest.raises(OperationalError):
                service.delete_document(dora, doc["id"])
    assert client.get(f"{API}/documents/{doc['id']}", headers=h).status_code == 200
    assert in_db(app, lambda: AuditEvent.select().where(AuditEvent.event == "document_delete").count()) == 0


# ---------------------------------------------------------------- item 12: the person filter in any script

def test_the_person_filter_matches_names_in_any_script_and_case(app, client, auth, users):
    """Issue 13 item 12: ?person= and ?actor= match Élodie as élodie or ÉLODIE, and Straße as
    STRASSE, in the API and on /admin/audit (SQLite's LOWER folds ASCII only)."""
    users.create("root", role="administrator")
    users.create("Élodie")
    users.create("Straße")
    for name in ("Élodie", "Straße"):
        login(client, name)
    h = bearer(login(client, "root")["access_token"])
    for query in ("élodie", "ÉLODIE", " Élodie "):
        found = audit(client, h, person=query)
        assert found and {e["event"] for e in found} >= {"login", "user_create"}, query
        assert all("Élodie" in (e["actor"] or {}).get("username", "") + (e["target"] or {}).get("username", "")
                   for e in found)
        assert {e["actor"]["username"] for e in audit(client, h, actor=query)} == {"Élodie"}
    assert {e["target"]["username"] for e in audit(client, h, person="strasse", event="login")} == {"Straße"}
    auth.login("root")
    page = text(client.get("/admin/audit", query_string={"person": "élodie", "event": "login"}))
    assert "Élodie" in page and "<td>login</td>" in page
    assert "Straße" not in page


def test_existing_audit_events_get_their_keys_from_the_migration(app, users):
    """Issue 13 item 12: events written before the keys existed are found by the person
    filter once m0016 has filled their keys from the stored names."""
    from playhouse.migrate import migrate

    from keystead.audit.service import filtered
    from keystead.migrations import _migrator, upgrade
    from keystead.models import SchemaVersion
    users.create("Élodie")
    db = app.extensions["keystead.db"]

    def downgrade():
        AuditEvent.create(event="login", outcome="success", actor_name="Élodie", target_name="Élodie")
        migrator = _migrator(db)
        for column in ("actor_key", "target_key"):
            migrate(migrator.drop_index("audit_event", f"audit_event_{column}"),
                    migrator.drop_column("audit_event", column))
        SchemaVersion.delete().where(SchemaVersion.version == 16).execute()
    in_db(app, downgrade)
    with app.app_context():
        upgrade(db)
    with app.test_request_context():
        with db.connection_context():
            assert {e.event for e in filtered(person="ÉLODIE")} == {"login", "user_create"}
            assert filtered(actor="élodie").where(AuditEvent.event == "login").count() == 1
