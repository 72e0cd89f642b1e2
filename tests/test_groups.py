"""Groups (SPEC 4 and 6): the service functions of app/groups.py and /api/v1/groups."""
from __future__ import annotations

import pytest

from api_support import API, assert_error, bearer, in_db, login
from keystead import groups
from keystead.errors import Conflict, NotFound, ValidationFailed
from keystead.models import Group, Membership, User
from plugins.recorder import Recorder


# ---------------------------------------------------------------- the service

def test_names_are_unique_case_insensitively_after_nfkc(app):
    def run():
        g = groups.create_group("  Engineering ")
        assert g.name == "Engineering" and g.name_key == "engineering"
        for taken in ("engineering", "ENGINEERING", "Ｅｎｇｉｎｅｅｒｉｎｇ"):
            with pytest.raises(Conflict) as e:
                groups.create_group(taken)
            assert e.value.code == "taken" and "name" in e.value.fields
        other = groups.create_group("Ops")
        with pytest.raises(Conflict):
            groups.rename_group(other, "engineering")
        # Renaming to another spelling of its own name is allowed.
        assert groups.rename_group(g, "ENGINEERING").name == "ENGINEERING"
        assert Group.select().count() == 2
    in_db(app, run)


@pytest.mark.parametrize("name", ["", "   ", None, 7, "x" * 101, "bad\x00name", "tab\tname", "ß" * 60])
def test_bad_names_are_refused(app, name):
    def run():
        with pytest.raises(ValidationFailed) as e:
            groups.create_group(name)
        assert "name" in e.value.fields
        assert Group.select().count() == 0
    in_db(app, run)


def test_membership_and_counts(app, users):
    ada, bob = users.create("ada")[0], users.create("bob")[0]

    def run():
        eng, ops, empty = (groups.create_group(n) for n in ("Eng", "ops", "Empty"))
        assert groups.add_member(eng, ada) is True
        assert groups.add_member(eng, ada) is False  # already: nothing changes
        groups.add_member(eng, bob)
        groups.add_member(ops, ada)
        rows, total = groups.list_groups()
        assert total == 3
        assert [(g.name, n) for g, n in rows] == [("Empty", 0), ("Eng", 2), ("ops", 1)]
        rows, total = groups.list_groups("EN")
        assert total == 1 and rows[0][0].name == "Eng"
        rows, total = groups.list_groups(page=2, per_page=2)
        assert total == 3 and [g.name for g, _ in rows] == ["ops"]
        members, total = groups.members_of(eng)
        assert total == 2 and [u.username for u in members] == ["ada", "bob"]
        assert groups.group_names_of([ada.id, bob.id, 999]) == {ada.id: ["Eng", "ops"], bob.id: ["Eng"], 999: []}
        groups.remove_member(eng, ada)
        with pytest.raises(NotFound) as e:
            groups.remove_member(eng, ada)
        assert e.value.code == "not_a_member"
        groups.delete_group(eng)
        assert Membership.select().where(Membership.user == bob.id).count() == 0
        assert User.select().count() == 2  # the people stay
        with pytest.raises(NotFound):
            groups.get_group(eng.id)
        assert groups.find_group("OPS").id == ops.id
        assert groups.find_group(str(empty.id)).id == empty.id
        with pytest.raises(NotFound):
            groups.find_group("nothing")
    in_db(app, run)


def test_every_change_is_reported_as_a_group_change_event(make_app):
    recorder = Recorder()
    app = make_app(plugins=[recorder])
    from api_support import users_of
    root = users_of(app).create("root", role="administrator")[0]
    ada = users_of(app).create("ada")[0]

    def run():
        g = groups.create_group("Eng", actor=root)
        g = groups.rename_group(g, "Engineering", actor=root)
        groups.add_member(g, ada, actor=root)
        groups.add_member(g, ada, actor=root)  # no change, no event
        groups.remove_member(g, ada, actor=root)
        groups.delete_group(groups.get_group(g.id), actor=root)
    in_db(app, run)
    changes = [(e[1], e[2], e[4]["action"], e[4]["group"]) for e in recorder.events if e[0] == "group_change"]
    assert changes == [("root", None, "create", "Eng"), ("root", None, "rename", "Eng"),
                       ("root", "ada", "add_member", "Engineering"),
                       ("root", "ada", "remove_member", "Engineering"), ("root", None, "delete", "Engineering")]


# ---------------------------------------------------------------- the API

def test_any_signed_in_person_reads_groups_but_only_administrators_change_them(app, client, admin_h, viewer_h):
    gid = client.post(f"{API}/groups", headers=admin_h, json={"name": "Eng"}).get_json()["id"]
    for h, ok in ((viewer_h, 200), (admin_h, 200)):
        assert client.get(f"{API}/groups", headers=h).status_code == ok
        assert client.get(f"{API}/groups/{gid}", headers=h).status_code == ok
    assert_error(client.get(f"{API}/groups"), 401)
    assert_error(client.get(f"{API}/groups/{gid}"), 401)
    uid = in_db(app, lambda: User.get(User.username_key == "vera").id)
    for method, path, body in (("POST", "/groups", {"name": "X"}), ("PATCH", f"/groups/{gid}", {"name": "X"}),
                               ("DELETE", f"/groups/{gid}", None), ("GET", f"/groups/{gid}/members", None),
                               ("PUT", f"/groups/{gid}/members/{uid}", None),
                               ("DELETE", f"/groups/{gid}/members/{uid}", None)):
        assert_error(client.open(API + path, method=method, json=body, headers=viewer_h), 403)
        assert_error(client.open(API + path, method=method, json=body), 401)
    assert in_db(app, lambda: Group.select().count()) == 1


def test_create_list_get_rename_delete(app, client, admin_h):
    r = client.post(f"{API}/groups", headers=admin_h, json={"name": "Engineering"})
    assert r.status_code == 201
    g = r.get_json()
    assert set(g) == {"id", "name", "member_count", "roles", "created_at"} and g["member_count"] == 0
    client.post(f"{API}/groups", headers=admin_h, json={"name": "ops"})
    body = client.get(f"{API}/groups", headers=admin_h).get_json()
    assert body["total"] == 2 and [x["name"] for x in body["results"]] == ["Engineering", "ops"]
    assert client.get(f"{API}/groups?q=OP", headers=admin_h).get_json()["total"] == 1
    assert client.get(f"{API}/groups?per_page=1&page=2", headers=admin_h).get_json()["results"][0]["name"] == "ops"
    assert client.get(f"{API}/groups/{g['id']}", headers=admin_h).get_json()["name"] == "Engineering"
    r = client.patch(f"{API}/groups/{g['id']}", headers=admin_h, json={"name": "Eng"})
    assert r.status_code == 200 and r.get_json()["name"] == "Eng"
    assert client.delete(f"{API}/groups/{g['id']}", headers=admin_h).status_code == 204
    assert_error(client.get(f"{API}/groups/{g['id']}", headers=admin_h), 404)
    assert_error(client.delete(f"{API}/groups/{g['id']}", headers=admin_h), 404)


def test_duplicates_are_409_and_bad_names_422(app, client, admin_h):
    gid = client.post(f"{API}/groups", headers=admin_h, json={"name": "Eng"}).get_json()["id"]
    other = client.post(f"{API}/groups", headers=admin_h, json={"name": "Ops"}).get_json()["id"]
    err = assert_error(client.post(f"{API}/groups", headers=admin_h, json={"name": "ENG"}), 409, "taken")
    assert "name" in err["fields"]
    assert_error(client.patch(f"{API}/groups/{other}", headers=admin_h, json={"name": "eng"}), 409, "taken")
    for bad in ({"name": ""}, {"name": 5}, {}, {"name": "x" * 101}):
        assert "name" in assert_error(client.post(f"{API}/groups", headers=admin_h, json=bad), 422)["fields"]
        assert "name" in assert_error(client.patch(f"{API}/groups/{gid}", headers=admin_h, json=bad), 422)["fields"]
    assert [x["name"] for x in client.get(f"{API}/groups", headers=admin_h).get_json()["results"]] == ["Eng", "Ops"]


def test_members_are_added_listed_and_removed(app, client, admin_h, users):
    ada, bob = users.create("ada")[0], users.create("bob")[0]
    gid = client.post(f"{API}/groups", headers=admin_h, json={"name": "Eng"}).get_json()["id"]
    for uid in (bob.id, ada.id, ada.id):  # adding twice is fine
        r = client.put(f"{API}/groups/{gid}/members/{uid}", headers=admin_h)
        assert r.status_code == 204
    body = client.get(f"{API}/groups/{gid}/members", headers=admin_h).get_json()
    assert body["total"] == 2 and [u["username"] for u in body["results"]] == ["ada", "bob"]
    assert body["results"][0]["groups"] == ["Eng"]
    assert client.get(f"{API}/groups/{gid}", headers=admin_h).get_json()["member_count"] == 2
    ada_me = client.get(f"{API}/users/me", headers=bearer(login(client, "ada")["access_token"])).get_json()
    assert ada_me["groups"] == ["Eng"]
    assert client.delete(f"{API}/groups/{gid}/members/{ada.id}", headers=admin_h).status_code == 204
    assert_error(client.delete(f"{API}/groups/{gid}/members/{ada.id}", headers=admin_h), 404, "not_a_member")
    body = client.get(f"{API}/groups/{gid}/members?per_page=1", headers=admin_h).get_json()
    assert body["total"] == 1 and body["per_page"] == 1 and body["results"][0]["username"] == "bob"


def test_unknown_groups_and_people_are_404(client, admin_h, admin):
    gid = client.post(f"{API}/groups", headers=admin_h, json={"name": "Eng"}).get_json()["id"]
    for method, path in (("GET", "/groups/999"), ("PATCH", "/groups/999"), ("DELETE", "/groups/999"),
                         ("GET", "/groups/999/members"), ("PUT", f"/groups/999/members/{admin.id}"),
                         ("PUT", f"/groups/{gid}/members/999"), ("DELETE", f"/groups/{gid}/members/999"),
                         ("GET", f"/groups/{2**64}")):
        body = {"name": "x"} if method == "PATCH" else None
        assert_error(client.open(API + path, method=method, json=body, headers=admin_h), 404)


def test_deleting_a_person_takes_them_out_of_their_groups(app, client, admin_h, users):
    ada = users.create("ada")[0]
    gid = client.post(f"{API}/groups", headers=admin_h, json={"name": "Eng"}).get_json()["id"]
    client.put(f"{API}/groups/{gid}/members/{ada.id}", headers=admin_h)
    client.delete(f"{API}/users/{ada.id}", headers=admin_h)
    assert client.get(f"{API}/groups/{gid}", headers=admin_h).get_json()["member_count"] == 0
