"""Issue 18: who may read and change a document. A document id that is no id never opens
another document; a group member reads a shared document but may not change it (404 with
the reason), an administrator (people.manage) may; a plugin's refusal hides a document the
rules allow, and a plugin's grant opens one they do not. Written to kill the mutants
mutmut found surviving in app/documents/access.py (docs/testing.md)."""
from __future__ import annotations

import pytest
from api_support import API, assert_error, bearer, in_db, login, users_of
from documents_support import create_text, make_group

from keystead import groups, hookimpl
from keystead.models import Group


class Verdicts:
    """keystead_authorize from a table: {(username, title): verdict}, for reading only (a
    plugin decides per permission: it must be asked about documents.read)."""

    def __init__(self, table):
        self.table = table

    @hookimpl
    def keystead_authorize(self, user, permission, resource):
        if permission != "documents.read":
            return None
        return self.table.get((user.username, getattr(resource, "title", None)))


def _h(client, name):
    return bearer(login(client, name)["access_token"])


def _world(app):
    """paul (publisher) owns "Shared" (shared with team: paul, bob) and "Private"; carol
    is in no group; root is an administrator."""
    users = users_of(app)
    paul, _ = users.create("paul", role="publisher")
    bob, _ = users.create("bob")
    users.create("carol")
    users.create("root", role="administrator")
    team = make_group(app, "team", [paul, bob])
    client = app.test_client()
    h = _h(client, "paul")
    shared = create_text(client, h["Authorization"].split()[1], "Shared", "shared words")
    private = create_text(client, h["Authorization"].split()[1], "Private", "private words")
    assert client.put(f"{API}/documents/{shared['id']}/groups/{team.id}", headers=h).status_code == 204
    return client, shared, private


@pytest.mark.parametrize("document_id", ["abc", "0", "-1", "1.0", "9223372036854775808", "99999999999999999999"])
def test_a_document_id_that_is_no_id_opens_no_document(app, document_id):
    client, shared, private = _world(app)
    h = _h(client, "paul")
    assert client.get(f"{API}/documents/{shared['id']}", headers=h).status_code == 200
    assert_error(client.get(f"{API}/documents/{document_id}", headers=h), 404, "not_found")
    assert_error(client.delete(f"{API}/documents/{document_id}", headers=h), 404, "not_found")


def test_the_largest_document_id_is_looked_up_not_refused_by_the_driver(app):
    client, _, _ = _world(app)
    assert_error(client.get(f"{API}/documents/9223372036854775807", headers=_h(client, "paul")), 404, "not_found")


def test_a_group_member_reads_a_shared_document_but_may_not_change_it(app):
    client, shared, private = _world(app)
    h = _h(client, "bob")
    assert client.get(f"{API}/documents/{shared['id']}", headers=h).get_json()["title"] == "Shared"
    e = assert_error(client.delete(f"{API}/documents/{shared['id']}", headers=h), 404, "not_found")
    assert e["message"] == ("No such document among those you can change; a document shared with "
                            "you can be read, not changed.")
    assert_error(client.get(f"{API}/documents/{private['id']}", headers=h), 404, "not_found")
    assert client.get(f"{API}/documents/{shared['id']}", headers=_h(client, "paul")).status_code == 200


def test_an_administrator_may_change_anyones_document_and_an_outsider_sees_none(app):
    client, shared, private = _world(app)
    assert_error(client.get(f"{API}/documents/{shared['id']}", headers=_h(client, "carol")), 404, "not_found")
    assert client.delete(f"{API}/documents/{private['id']}", headers=_h(client, "root")).status_code == 204
    assert_error(client.get(f"{API}/documents/{private['id']}", headers=_h(client, "paul")), 404, "not_found")


def test_a_plugins_refusal_hides_a_document_the_rules_allow(make_app):
    app = make_app(plugins=[Verdicts({("bob", "Shared"): False, ("paul", "Private"): False})])
    client, shared, private = _world(app)
    assert_error(client.get(f"{API}/documents/{shared['id']}", headers=_h(client, "bob")), 404, "not_found")
    h = _h(client, "paul")
    assert_error(client.get(f"{API}/documents/{private['id']}", headers=h), 404, "not_found")
    assert client.get(f"{API}/documents/{shared['id']}", headers=h).status_code == 200
    titles = [d["title"] for d in client.get(f"{API}/documents", headers=h).get_json()["results"]]
    assert titles == ["Shared"]


def test_a_plugins_grant_opens_a_document_the_rules_do_not(make_app):
    app = make_app(plugins=[Verdicts({("carol", "Private"): True})])
    client, shared, private = _world(app)
    h = _h(client, "carol")
    assert client.get(f"{API}/documents/{private['id']}", headers=h).get_json()["title"] == "Private"
    assert_error(client.get(f"{API}/documents/{shared['id']}", headers=h), 404, "not_found")
    assert_error(client.get(f"{API}/documents/{private['id']}", headers=_h(client, "bob")), 404, "not_found")


def test_a_group_member_without_documents_read_neither_opens_nor_finds_a_shared_document(make_app):
    app = make_app({"Authorization.Roles": {"guest": {"permissions": []}}})
    client, shared, _ = _world(app)
    users = users_of(app)
    gus, _ = users.create("gus", role="guest")
    in_db(app, lambda: groups.add_member(Group.get(Group.name == "team"), gus))
    h = _h(client, "gus")
    answers = [client.get(f"{API}/documents/{shared['id']}", headers=h),
               client.get(f"{API}/documents/search?q=shared", headers=h),
               client.get(f"{API}/documents?shared=true", headers=h)]
    e = assert_error(answers[0], 404, "not_found")
    assert e["message"] == "No such document."
    for r in answers[1:]:
        assert assert_error(r, 403, "forbidden")["message"] == "This needs the permission documents.read."
