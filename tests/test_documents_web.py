"""/documents in the browser (SPEC 8): login required; list, upload, search, delete and
share for the signed-in person; the same access rules as the API, including access that
ends (leaving a group, a share removed, the owner deleted)."""
from __future__ import annotations

import io
import re

import pytest
from pages import error_beside, flashes, redirect_to

from api_support import in_db
from conftest import AuthActions, csrf_from
from documents_support import document_count, make_group, make_pdf
from keystead import accounts, groups
from keystead.documents.models import Document, DocumentShare


@pytest.fixture
def people(users):
    # Publishers: since issue 14 viewers no longer upload (tests/test_authorization.py).
    return {name: users.create(name, role="administrator" if name == "root" else "publisher")[0]
            for name in ("alice", "bob", "carol", "root")}


@pytest.fixture
def browser(app, people):
    """browser(name) -> a test client logged in as that person."""
    def open_as(name):
        client = app.test_client()
        r = AuthActions(client).login(name)
        assert r.status_code in (302, 303), r.get_data(as_text=True)
        return client
    return open_as


def _upload(client, data: bytes, filename: str, title: str = ""):
    token = csrf_from(client.get("/documents").get_data(as_text=True))
    return client.post("/documents", data={"csrf_token": token, "title": title,
                                           "file": (io.BytesIO(data), filename)},
                       content_type="multipart/form-data")


def _post(client, path: str, page: str, data: dict | None = None):
    token = csrf_from(client.get(page).get_data(as_text=True))
    return client.post(path, data={"csrf_token": token, **(data or {})})


def _doc_id(app, title: str) -> int:
    return in_db(app, lambda: Document.get(Document.title == title).id)


def _text(page: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", page).split())


def test_the_page_needs_a_login(client):
    for path in ("/documents", "/documents/1"):
        r = client.get(path)
        assert r.status_code == 302 and redirect_to(r)[0] == "/login"
    assert client.post("/documents").status_code == 400  # no session, so no CSRF token either


def test_upload_view_list_and_delete(app, browser):
    alice = browser("alice")
    r = _upload(alice, make_pdf(["Minutes of the puffin committee"]), "minutes.pdf", title="Puffin minutes")
    assert r.status_code == 303
    doc_id = _doc_id(app, "Puffin minutes")
    assert r.headers["Location"].endswith(f"/documents/{doc_id}")
    page = alice.get(f"/documents/{doc_id}").get_data(as_text=True)
    assert "Minutes of the puffin committee" in page and "application/pdf" in page
    assert "“Puffin minutes” was uploaded." in flashes(page)

    listing = alice.get("/documents").get_data(as_text=True)
    assert "Puffin minutes" in listing and "minutes.pdf" in listing

    r = _post(alice, f"/documents/{doc_id}/delete", "/documents")
    assert r.status_code == 303 and redirect_to(r)[0] == "/documents"
    assert document_count(app) == 0
    assert "You have no documents yet." in alice.get("/documents").get_data(as_text=True)


def test_a_refused_upload_says_why_beside_the_field_and_stores_nothing(app, browser):
    alice = browser("alice")
    r = _upload(alice, b"plain text pretending", "fake.pdf")
    assert r.status_code == 415
    assert "its content is text" in error_beside(r.get_data(as_text=True), "file")
    r = _upload(alice, make_pdf(["x"])[:200], "broken.pdf")
    assert r.status_code == 422 and "damaged" in error_beside(r.get_data(as_text=True), "file")
    token = csrf_from(alice.get("/documents").get_data(as_text=True))
    r = alice.post("/documents", data={"csrf_token": token, "title": "no file"},
                   content_type="multipart/form-data")
    assert r.status_code == 400 and error_beside(r.get_data(as_text=True), "file") == "Choose a file to upload."
    assert document_count(app) == 0


def test_oversized_uploads_are_refused(make_app, users):
    app = make_app({"Documents.MaxBytes": 2000})
    users.app = app
    users.create("alice", role="publisher")  # viewers no longer upload (issue 14)
    client = app.test_client()
    AuthActions(client).login("alice")
    r = _upload(client, b"a" * 2001, "big.txt")
    assert r.status_code == 413 and "larger than" in error_beside(r.get_data(as_text=True), "file")
    assert _upload(client, b"a" * 200_000, "huge.txt").status_code == 413
    assert document_count(app) == 0


def test_search_shows_highlighted_snippets_of_readable_documents_only(app, browser, people):
    alice, bob = browser("alice"), browser("bob")
    _upload(alice, b"The <script>alert(1)</script> gannet & co. say 1 < 2.", "gannets.txt", title="Gannets")
    _upload(bob, b"A gannet was ringed in 1998.", "ring.txt", title="Ringing")
    page = alice.get("/documents?q=gannet").get_data(as_text=True)
    assert "<mark>gannet</mark>" in page
    assert "<script>" not in page and "gannet</mark> & co" not in page
    # The text escaped (PostgreSQL's ts_headline drops the tag itself).
    assert "<mark>gannet</mark> &amp; co." in page
    assert "Gannets" in page and "Ringing" not in page
    assert "1 match among the documents you can read" in _text(page)
    admin_page = browser("root").get("/documents?q=gannet").get_data(as_text=True)
    assert "Gannets" in admin_page and "Ringing" in admin_page
    assert "2 matches" in _text(admin_page)
    r = alice.get("/documents?q=%21%21")
    assert error_beside(r.get_data(as_text=True), "q") == "Enter one or more words to search for."


def test_someone_elses_document_is_404_on_the_page(app, browser):
    alice, bob = browser("alice"), browser("bob")
    _upload(alice, b"private petrel notes", "petrel.txt", title="Petrel")
    doc_id = _doc_id(app, "Petrel")
    assert bob.get(f"/documents/{doc_id}").status_code == 404
    assert _post(bob, f"/documents/{doc_id}/delete", "/documents").status_code == 404
    assert "Petrel" not in bob.get("/documents").get_data(as_text=True)
    assert "Petrel" not in bob.get("/documents?scope=all").get_data(as_text=True)  # not an admin: own
    assert document_count(app) == 1


def test_sharing_with_a_group_on_the_page_and_access_ending(app, browser, people):
    team = make_group(app, "team", [people["alice"], people["bob"]])
    make_group(app, "not-alices", [people["carol"]])
    alice, bob, carol = browser("alice"), browser("bob"), browser("carol")
    _upload(alice, b"shearwater survey results", "survey.txt", title="Survey")
    doc_id = _doc_id(app, "Survey")

    view = alice.get(f"/documents/{doc_id}").get_data(as_text=True)
    assert f'<option value="{team.id}">team</option>' in view
    assert "not-alices" not in view  # only her own groups are offered
    r = _post(alice, f"/documents/{doc_id}/share", f"/documents/{doc_id}", {"group": team.id})
    assert r.status_code == 303
    assert in_db(app, lambda: DocumentShare.select().count()) == 1

    # bob reads it, finds it, sees it under "shared", but has no delete or share controls.
    member_view = bob.get(f"/documents/{doc_id}")
    assert member_view.status_code == 200
    member_page = member_view.get_data(as_text=True)
    assert "shearwater survey results" in member_page
    assert f"/documents/{doc_id}/delete" not in member_page and "Stop sharing" not in member_page
    assert "Survey" in bob.get("/documents?scope=shared").get_data(as_text=True)
    assert "<mark>shearwater</mark>" in bob.get("/documents?q=shearwater").get_data(as_text=True)
    assert _post(bob, f"/documents/{doc_id}/delete", "/documents").status_code == 404
    assert document_count(app) == 1
    assert carol.get(f"/documents/{doc_id}").status_code == 404

    # alice stops sharing: bob's access ends at once.
    r = _post(alice, f"/documents/{doc_id}/unshare/{team.id}", f"/documents/{doc_id}")
    assert r.status_code == 303
    assert bob.get(f"/documents/{doc_id}").status_code == 404
    assert "Survey" not in bob.get("/documents?q=shearwater").get_data(as_text=True)

    # Shared again, then bob leaves the group: access ends at once.
    _post(alice, f"/documents/{doc_id}/share", f"/documents/{doc_id}", {"group": team.id})
    assert bob.get(f"/documents/{doc_id}").status_code == 200
    in_db(app, lambda: groups.remove_member(team, people["bob"]))
    assert bob.get(f"/documents/{doc_id}").status_code == 404
    assert "Survey" not in bob.get("/documents?scope=shared").get_data(as_text=True)


def test_an_administrator_sees_everyones_and_may_delete_them(app, browser):
    alice, root = browser("alice"), browser("root")
    _upload(alice, b"kittiwake counts", "k.txt", title="Kittiwakes")
    doc_id = _doc_id(app, "Kittiwakes")
    everyone = root.get("/documents?scope=all").get_data(as_text=True)
    assert "Kittiwakes" in everyone and "alice" in everyone
    assert root.get(f"/documents/{doc_id}").status_code == 200
    assert _post(root, f"/documents/{doc_id}/delete", "/documents?scope=all").status_code == 303
    assert document_count(app) == 0


def test_deleting_the_owner_removes_their_documents_from_every_page(app, browser, people):
    team = make_group(app, "team", [people["alice"], people["bob"]])
    alice, bob = browser("alice"), browser("bob")
    _upload(alice, b"guillemot ledger", "g.txt", title="Guillemots")
    doc_id = _doc_id(app, "Guillemots")
    _post(alice, f"/documents/{doc_id}/share", f"/documents/{doc_id}", {"group": team.id})
    assert bob.get(f"/documents/{doc_id}").status_code == 200
    in_db(app, lambda: accounts.delete_user(people["alice"]))
    assert bob.get(f"/documents/{doc_id}").status_code == 404
    assert "Guillemots" not in bob.get("/documents?q=guillemot").get_data(as_text=True)
    assert document_count(app) == 0


def test_forms_need_their_csrf_token(app, browser):
    alice = browser("alice")
    _upload(alice, b"tern data", "t.txt", title="Terns")
    doc_id = _doc_id(app, "Terns")
    assert alice.post(f"/documents/{doc_id}/delete").status_code == 400
    assert alice.post("/documents", data={"file": (io.BytesIO(b"x"), "x.txt")},
                      content_type="multipart/form-data").status_code == 400
    assert document_count(app) == 1
