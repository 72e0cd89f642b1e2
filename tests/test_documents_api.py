"""/api/v1/documents (SPEC 8): the document API and every access rule on real data: own
documents, documents shared with a group (read only), administrators reaching
everyone's, 404 for anything else, and access that ends at once (leaving a group, a
share removed, a group deleted, the owner deleted)."""
from __future__ import annotations

import pytest

from api_support import API, assert_error, bearer, in_db, login
from documents_support import document_count, make_group, upload
from keystead import accounts, groups
from keystead.documents.models import Document, DocumentShare


@pytest.fixture
def people(users):
    """alice and bob (publishers, who upload and share since issue 14), carol (a publisher in
    no group with them), root (administrator)."""
    return {name: users.create(name, role="administrator" if name == "root" else "publisher")[0]
            for name in ("alice", "bob", "carol", "root")}


@pytest.fixture
def tokens(client, people):
    """An access token per person, from the login API."""
    return {name: login(client, name)["access_token"] for name in people}


@pytest.fixture
def h(tokens):
    """Authorization headers per person."""
    return {name: bearer(token) for name, token in tokens.items()}


def _doc(client, headers, title="Quarterly report", content="Revenue grew in the northern region."):
    r = client.post(f"{API}/documents", json={"title": title, "content": content}, headers=headers)
    assert r.status_code == 201, r.get_data(as_text=True)
    return r.get_json()


def _ids(response) -> list[int]:
    assert response.status_code == 200, response.get_data(as_text=True)
    return [d["id"] for d in response.get_json()["results"]]


def _search_ids(client, headers, q) -> tuple[list[int], int]:
    r = client.get(f"{API}/documents/search", query_string={"q": q}, headers=headers)
    assert r.status_code == 200, r.get_data(as_text=True)
    body = r.get_json()
    return [hit["id"] for hit in body["results"]], body["total"]


# ---------------------------------------------------------------- the basics

def test_create_from_json_then_read_list_and_delete(client, h, people):
    created = _doc(client, h["alice"])
    assert set(created) == {"id", "title", "filename", "size", "content_type", "created_at", "owner"}
    assert created["title"] == "Quarterly report"
    assert created["content_type"] == "text/plain"
    assert created["size"] == len("Revenue grew in the northern region.".encode())
    assert created["owner"] == {"id": people["alice"].id, "username": "alice"}
    assert created["created_at"].endswith("Z") and created["filename"] is None

    one = client.get(f"{API}/documents/{created['id']}", headers=h["alice"])
    assert one.status_code == 200
    assert one.get_json() == {**created, "text": "Revenue grew in the northern region.", "groups": []}

    listed = client.get(f"{API}/documents", headers=h["alice"]).get_json()
    assert listed == {"results": [created], "total": 1, "page": 1, "per_page": 50}

    assert client.delete(f"{API}/documents/{created['id']}", headers=h["alice"]).status_code == 204
    assert_error(client.get(f"{API}/documents/{created['id']}", headers=h["alice"]), 404, "not_found")
    assert _ids(client.get(f"{API}/documents", headers=h["alice"])) == []


def test_create_from_a_multipart_file(client, tokens):
    r = upload(client, tokens["alice"], b"Plain words in a file.\n", "notes.txt", title="My notes")
    assert r.status_code == 201, r.get_data(as_text=True)
    body = r.get_json()
    assert (body["title"], body["filename"], body["content_type"], body["size"]) == \
        ("My notes", "notes.txt", "text/plain", 23)


@pytest.mark.parametrize("method,path", [
    ("get", "/documents"), ("post", "/documents"), ("get", "/documents/search?q=x"),
    ("get", "/documents/1"), ("delete", "/documents/1"),
    ("put", "/documents/1/groups/1"), ("delete", "/documents/1/groups/1")])
def test_every_route_needs_a_token(client, method, path):
    assert_error(getattr(client, method)(f"{API}{path}"), 401, "authentication_required")


def test_list_pages_newest_first(client, h):
    ids = [_doc(client, h["alice"], title=f"Doc {i}")["id"] for i in range(5)]
    first = client.get(f"{API}/documents?per_page=2", headers=h["alice"]).get_json()
    assert [d["id"] for d in first["results"]] == ids[::-1][:2]
    assert (first["total"], first["page"], first["per_page"]) == (5, 1, 2)
    third = client.get(f"{API}/documents?per_page=2&page=3", headers=h["alice"]).get_json()
    assert [d["id"] for d in third["results"]] == [ids[0]]
    assert_error(client.get(f"{API}/documents?per_page=0", headers=h["alice"]), 422, "validation_failed")
    assert_error(client.get(f"{API}/documents?all=maybe", headers=h["alice"]), 422, "validation_failed")


def test_json_refusals_store_nothing(app, client, h):
    e = assert_error(client.post(f"{API}/documents", json={"content": "x"}, headers=h["alice"]), 422)
    assert set(e["fields"]) == {"title"}
    e = assert_error(client.post(f"{API}/documents", json={"title": "t", "content": "  "},
                                 headers=h["alice"]), 422)
    assert set(e["fields"]) == {"content"}
    e = assert_error(client.post(f"{API}/documents", json={"title": "t", "content": "x",
                                                           "content_type": "application/pdf"},
                                 headers=h["alice"]), 422)
    assert set(e["fields"]) == {"content_type"}
    e = assert_error(client.post(f"{API}/documents", json={"title": "t" * 301, "content": "x"},
                                 headers=h["alice"]), 422)
    assert set(e["fields"]) == {"title"}
    assert_error(client.post(f"{API}/documents", data="title=x", headers=h["alice"],
                             content_type="application/x-www-form-urlencoded"), 415)
    assert_error(client.post(f"{API}/documents", data={"title": "no file"}, headers=h["alice"],
                             content_type="multipart/form-data"), 422)
    assert document_count(app) == 0


# ---------------------------------------------------------------- someone else's: 404

def test_someone_elses_document_is_404_everywhere(app, client, h, people):
    secret = _doc(client, h["alice"], title="Alice's secret", content="zanzibar treasure map")
    group = make_group(app, "team", [people["bob"], people["alice"]])
    for path, method in ((f"/documents/{secret['id']}", "get"), (f"/documents/{secret['id']}", "delete"),
                         (f"/documents/{secret['id']}/groups/{group.id}", "put"),
                         (f"/documents/{secret['id']}/groups/{group.id}", "delete")):
        e = assert_error(getattr(client, method)(f"{API}{path}", headers=h["bob"]), 404, "not_found")
        # The same answer as for a document that never existed: nothing leaks.
        missing = assert_error(getattr(client, method)(f"{API}{path.replace(str(secret['id']), '999999', 1)}",
                                                       headers=h["bob"]), 404)
        assert e == missing
    assert _ids(client.get(f"{API}/documents", headers=h["bob"])) == []
    assert _ids(client.get(f"{API}/documents?shared=true", headers=h["bob"])) == []
    assert _search_ids(client, h["bob"], "zanzibar") == ([], 0)
    # Still there for its owner.
    assert client.get(f"{API}/documents/{secret['id']}", headers=h["alice"]).status_code == 200


@pytest.mark.parametrize("path", ["/documents/0", "/documents/99999999999999999999999",
                                  "/documents/abc", "/documents/-1"])
def test_odd_ids_are_404(client, h, path):
    assert_error(client.get(f"{API}{path}", headers=h["alice"]), 404)


def test_only_administrators_list_everyone(client, h):
    a = _doc(client, h["alice"])["id"]
    b = _doc(client, h["bob"])["id"]
    assert_error(client.get(f"{API}/documents?all=true", headers=h["bob"]), 403, "forbidden")
    assert set(_ids(client.get(f"{API}/documents?all=true", headers=h["root"]))) == {a, b}
    # Without ?all, an administrator's list is their own, like anyone's.
    assert _ids(client.get(f"{API}/documents", headers=h["root"])) == []


def test_an_administrator_reads_deletes_and_shares_anyones_document(app, client, h, people):
    doc = _doc(client, h["alice"], content="administrators reach everything")
    group = make_group(app, "auditors", [people["carol"]])  # alice is not a member
    r = client.get(f"{API}/documents/{doc['id']}", headers=h["root"])
    assert r.status_code == 200 and r.get_json()["text"] == "administrators reach everything"
    assert _search_ids(client, h["root"], "administrators") == ([doc["id"]], 1)
    assert client.put(f"{API}/documents/{doc['id']}/groups/{group.id}", headers=h["root"]).status_code == 204
    assert client.get(f"{API}/documents/{doc['id']}", headers=h["carol"]).status_code == 200
    assert client.delete(f"{API}/documents/{doc['id']}", headers=h["root"]).status_code == 204
    assert document_count(app) == 0


# ---------------------------------------------------------------- sharing with a group

def test_a_group_member_reads_a_shared_document_but_cannot_change_it(app, client, h, people):
    doc = _doc(client, h["alice"], title="Roadmap", content="the kestrel project ships in spring")
    team = make_group(app, "team", [people["alice"], people["bob"]])
    other = make_group(app, "other", [people["bob"]])
    r = client.put(f"{API}/documents/{doc['id']}/groups/{team.id}", headers=h["alice"])
    assert r.status_code == 204
    # Again: nothing changes.
    assert client.put(f"{API}/documents/{doc['id']}/groups/{team.id}", headers=h["alice"]).status_code == 204
    assert in_db(app, lambda: DocumentShare.select().count()) == 1

    r = client.get(f"{API}/documents/{doc['id']}", headers=h["bob"])
    assert r.status_code == 200
    assert r.get_json()["groups"] == [{"id": team.id, "name": "team"}]
    assert _ids(client.get(f"{API}/documents?shared=true", headers=h["bob"])) == [doc["id"]]
    assert _ids(client.get(f"{API}/documents", headers=h["bob"])) == []  # not bob's own
    assert _search_ids(client, h["bob"], "kestrel") == ([doc["id"]], 1)

    # Read only: a member may not delete, share on or unshare (404: someone else's document
    # answers 404, never 403, SPEC 8).
    assert_error(client.delete(f"{API}/documents/{doc['id']}", headers=h["bob"]), 404, "not_found")
    assert_error(client.put(f"{API}/documents/{doc['id']}/groups/{other.id}", headers=h["bob"]), 404)
    assert_error(client.delete(f"{API}/documents/{doc['id']}/groups/{team.id}", headers=h["bob"]), 404)
    assert document_count(app) == 1
    assert in_db(app, lambda: DocumentShare.select().count()) == 1

    # carol is in no group it is shared with.
    assert_error(client.get(f"{API}/documents/{doc['id']}", headers=h["carol"]), 404)
    assert _search_ids(client, h["carol"], "kestrel") == ([], 0)


def test_sharing_needs_a_real_group_the_owner_belongs_to(app, client, h, people):
    doc = _doc(client, h["alice"])
    elsewhere = make_group(app, "elsewhere", [people["bob"]])
    assert_error(client.put(f"{API}/documents/{doc['id']}/groups/424242", headers=h["alice"]), 404, "not_found")
    assert_error(client.delete(f"{API}/documents/{doc['id']}/groups/424242", headers=h["alice"]), 404)
    e = assert_error(client.put(f"{API}/documents/{doc['id']}/groups/{elsewhere.id}", headers=h["alice"]), 403)
    assert "groups you belong to" in e["message"]
    assert in_db(app, lambda: DocumentShare.select().count()) == 0
    # Removing a share that does not exist is not an error (idempotent).
    assert client.delete(f"{API}/documents/{doc['id']}/groups/{elsewhere.id}", headers=h["alice"]).status_code == 204


def test_leaving_the_group_ends_access_at_once(app, client, h, people):
    doc = _doc(client, h["alice"], content="ptarmigan migration notes")
    team = make_group(app, "team", [people["alice"], people["bob"]])
    client.put(f"{API}/documents/{doc['id']}/groups/{team.id}", headers=h["alice"])
    assert client.get(f"{API}/documents/{doc['id']}", headers=h["bob"]).status_code == 200

    in_db(app, lambda: groups.remove_member(team, people["bob"]))
    assert_error(client.get(f"{API}/documents/{doc['id']}", headers=h["bob"]), 404)
    assert _ids(client.get(f"{API}/documents?shared=true", headers=h["bob"])) == []
    assert _search_ids(client, h["bob"], "ptarmigan") == ([], 0)
    # Back in the group, back in reach.
    in_db(app, lambda: groups.add_member(team, people["bob"]))
    assert client.get(f"{API}/documents/{doc['id']}", headers=h["bob"]).status_code == 200


def test_removing_the_share_ends_access_at_once(app, client, h, people):
    doc = _doc(client, h["alice"], content="ptarmigan migration notes")
    team = make_group(app, "team", [people["alice"], people["bob"]])
    client.put(f"{API}/documents/{doc['id']}/groups/{team.id}", headers=h["alice"])
    assert _search_ids(client, h["bob"], "ptarmigan") == ([doc["id"]], 1)

    assert client.delete(f"{API}/documents/{doc['id']}/groups/{team.id}", headers=h["alice"]).status_code == 204
    assert_error(client.get(f"{API}/documents/{doc['id']}", headers=h["bob"]), 404)
    assert _search_ids(client, h["bob"], "ptarmigan") == ([], 0)
    assert client.get(f"{API}/documents/{doc['id']}", headers=h["alice"]).get_json()["groups"] == []


def test_deleting_the_group_ends_access_and_its_shares(app, client, h, people):
    doc = _doc(client, h["alice"], content="ptarmigan migration notes")
    team = make_group(app, "team", [people["alice"], people["bob"]])
    client.put(f"{API}/documents/{doc['id']}/groups/{team.id}", headers=h["alice"])
    in_db(app, lambda: groups.delete_group(team))
    assert_error(client.get(f"{API}/documents/{doc['id']}", headers=h["bob"]), 404)
    assert in_db(app, lambda: DocumentShare.select().count()) == 0
    assert client.get(f"{API}/documents/{doc['id']}", headers=h["alice"]).status_code == 200


def test_deleting_a_person_deletes_their_documents_and_shares(app, client, h, people):
    team = make_group(app, "team", [people["alice"], people["bob"]])
    mine = _doc(client, h["alice"], content="wolverine sightings")
    client.put(f"{API}/documents/{mine['id']}/groups/{team.id}", headers=h["alice"])
    bobs = _doc(client, h["bob"], content="wolverine tracks")

    in_db(app, lambda: accounts.delete_user(people["alice"]))  # delete_instance(recursive=True)
    assert in_db(app, lambda: [d.id for d in Document.select()]) == [bobs["id"]]
    assert in_db(app, lambda: DocumentShare.select().count()) == 0
    assert_error(client.get(f"{API}/documents/{mine['id']}", headers=h["bob"]), 404)
    assert_error(client.get(f"{API}/documents/{mine['id']}", headers=h["root"]), 404)
    # Gone from the full-text index too.
    assert _search_ids(client, h["root"], "wolverine") == ([bobs["id"]], 1)


def test_deleting_a_person_through_the_admin_api_deletes_their_documents(app, client, h, people):
    doc = _doc(client, h["carol"], content="marmot burrows")
    r = client.delete(f"{API}/users/{people['carol'].id}", headers=h["root"])
    assert r.status_code == 204, r.get_data(as_text=True)
    assert document_count(app) == 0
    assert_error(client.get(f"{API}/documents/{doc['id']}", headers=h["root"]), 404)
    assert _search_ids(client, h["root"], "marmot") == ([], 0)


def test_the_database_cascades_even_without_peewee(app, client, h, people):
    """ON DELETE CASCADE from the person, for deletes that bypass delete_instance."""
    from keystead.models import User
    team = make_group(app, "team", [people["bob"]])
    doc = _doc(client, h["bob"])
    client.put(f"{API}/documents/{doc['id']}/groups/{team.id}", headers=h["bob"])
    in_db(app, lambda: User.delete().where(User.id == people["bob"].id).execute())
    assert document_count(app) == 0
    assert in_db(app, lambda: DocumentShare.select().count()) == 0


def test_openapi_describes_the_document_routes(client):
    doc = client.get(f"{API}/openapi.json").get_json()
    for path in ("/documents", "/documents/search", "/documents/{id}",
                 "/documents/{id}/groups/{group_id}"):
        assert path in doc["paths"], path
    assert "multipart/form-data" in doc["paths"]["/documents"]["post"]["requestBody"]["content"]
    assert "Document" in doc["components"]["schemas"]
