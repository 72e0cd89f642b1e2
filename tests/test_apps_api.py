"""Issue 15: apps, registered and managed through /api/v1/apps by holders of apps.manage
(their own apps) and apps.manage_all (every app); /api/v1/users/me/apps lists the apps a
person may use."""
from __future__ import annotations

from conftest import STRONG_PASSWORD

API = "/api/v1"


def _token(client, users, username, role="viewer"):
    users.create(username, password=STRONG_PASSWORD, role=role)
    r = client.post(f"{API}/auth/login", json={"username": username, "password": STRONG_PASSWORD})
    assert r.status_code == 200, r.get_data(as_text=True)
    return {"Authorization": "Bearer " + r.get_json()["access_token"]}


def test_an_administrator_registers_an_app_and_sees_the_client_secret_only_once(client, admin_h):
    r = client.post(f"{API}/apps", headers=admin_h, json={
        "name": "Grafana", "launch_url": "https://grafana.example.com/", "hosts": ["Grafana.Example.com"],
        "redirect_uris": ["https://grafana.example.com/login/generic_oauth"]})
    assert r.status_code == 201, r.get_data(as_text=True)
    body = r.get_json()
    assert body["hosts"] == ["grafana.example.com"]
    assert body["client_id"].startswith("ksc_") and body["client_secret"].startswith("kss_")
    assert body["icon"] == "G"
    again = client.get(f"{API}/apps/{body['id']}", headers=admin_h).get_json()
    assert "client_secret" not in again and again["client_id"] == body["client_id"]
    listed = client.get(f"{API}/apps", headers=admin_h).get_json()["results"]
    assert [a["name"] for a in listed] == ["Grafana"]
    assert all("client_secret" not in a for a in listed)


def test_a_new_secret_is_shown_once_and_replaces_the_old_one(app, client, admin_h):
    from keystead.apps.credentials import check_client_secret
    from keystead.apps.models import App
    created = client.post(f"{API}/apps", headers=admin_h, json={
        "name": "Gitea", "redirect_uris": ["https://git.example.com/user/oauth2/keystead/callback"]}).get_json()
    r = client.patch(f"{API}/apps/{created['id']}", headers=admin_h, json={"new_secret": True})
    assert r.status_code == 200
    new = r.get_json()["client_secret"]
    assert new != created["client_secret"]
    with app.app_context(), app.extensions["keystead.db"].connection_context():
        record = App.get_by_id(created["id"])
        assert check_client_secret(record, new) and not check_client_secret(record, created["client_secret"])


def test_a_public_client_gets_no_secret(client, admin_h):
    r = client.post(f"{API}/apps", headers=admin_h, json={
        "name": "Spa", "public": True, "redirect_uris": ["http://localhost:5173/callback"]})
    assert r.status_code == 201
    assert r.get_json()["client_id"] and "client_secret" not in r.get_json()


def test_bad_hosts_and_redirect_uris_are_refused_with_a_field_map(client, admin_h):
    for body, field in [
        ({"name": "A", "hosts": ["not a host"]}, "hosts"),
        ({"name": "A", "hosts": ["x.example.com:99999"]}, "hosts"),
        ({"name": "A", "hosts": ["user@x.example.com"]}, "hosts"),
        ({"name": "A", "redirect_uris": ["http://example.com/cb"]}, "redirect_uris"),
        ({"name": "A", "redirect_uris": ["/relative"]}, "redirect_uris"),
        ({"name": "A", "redirect_uris": ["https://example.com/cb#frag"]}, "redirect_uris"),
        ({"name": "A", "launch_url": "javascript:alert(1)"}, "launch_url"),
        ({"name": "A", "icon": "http://example.com/i.png"}, "icon"),
        ({"name": "A", "hosts": "a.example.com"}, "hosts"),
        ({"name": "A", "owner": "me"}, "owner"),
    ]:
        r = client.post(f"{API}/apps", headers=admin_h, json=body)
        assert r.status_code == 422, (body, r.get_data(as_text=True))
        assert field in r.get_json()["error"]["fields"], body
    assert client.get(f"{API}/apps", headers=admin_h).get_json()["results"] == []


def test_http_redirect_uris_are_allowed_on_loopback_only(client, admin_h):
    r = client.post(f"{API}/apps", headers=admin_h, json={
        "name": "Local", "redirect_uris": ["http://127.0.0.1:8080/cb", "http://localhost/cb"]})
    assert r.status_code == 201, r.get_data(as_text=True)


def test_a_host_belongs_to_one_app(client, admin_h):
    assert client.post(f"{API}/apps", headers=admin_h, json={"name": "One", "hosts": ["a.example.com"]}).status_code == 201
    r = client.post(f"{API}/apps", headers=admin_h, json={"name": "Two", "hosts": ["A.example.com"]})
    assert r.status_code == 409 and "hosts" in r.get_json()["error"]["fields"]
    r = client.post(f"{API}/apps", headers=admin_h, json={"name": "one"})
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "taken"


def test_unknown_groups_and_people_are_named(client, admin_h):
    r = client.post(f"{API}/apps", headers=admin_h, json={
        "name": "A", "allowed_groups": ["nosuchgroup"], "allowed_users": ["nobody-here"]})
    assert r.status_code == 422
    fields = r.get_json()["error"]["fields"]
    assert "nosuchgroup" in fields["allowed_groups"] and "nobody-here" in fields["allowed_users"]


def test_publishers_manage_their_own_apps_only_and_viewers_none(client, users, admin_h):
    mine = _token(client, users, "pub1", "publisher")
    theirs = _token(client, users, "pub2", "publisher")
    viewer = _token(client, users, "view1")
    created = client.post(f"{API}/apps", headers=mine, json={"name": "Mine"})
    assert created.status_code == 201
    app_id = created.get_json()["id"]
    assert client.get(f"{API}/apps/{app_id}", headers=theirs).status_code == 404
    assert client.patch(f"{API}/apps/{app_id}", headers=theirs, json={"name": "Stolen"}).status_code == 404
    assert client.delete(f"{API}/apps/{app_id}", headers=theirs).status_code == 404
    assert client.get(f"{API}/apps", headers=theirs).get_json()["results"] == []
    assert client.post(f"{API}/apps", headers=viewer, json={"name": "V"}).status_code == 403
    assert client.patch(f"{API}/apps/{app_id}", headers=admin_h, json={"name": "Renamed"}).status_code == 200
    assert client.delete(f"{API}/apps/{app_id}", headers=mine).status_code == 204


def test_my_apps_lists_open_apps_and_those_allowed_to_me_or_my_groups(app, client, users, admin_h):
    from keystead.groups import add_member, create_group
    me = _token(client, users, "ada")
    users.create("bob")
    with app.app_context(), app.extensions["keystead.db"].connection_context():
        from keystead.models import User
        team = create_group("Team")
        add_member(team, User.get(User.username_key == "ada"))
    for body in ({"name": "Open"}, {"name": "ForTeam", "allowed_groups": ["team"]},
                 {"name": "ForAda", "allowed_users": ["ADA"]}, {"name": "ForBob", "allowed_users": ["bob"]}):
        assert client.post(f"{API}/apps", headers=admin_h, json=body).status_code == 201
    names = [a["name"] for a in client.get(f"{API}/users/me/apps", headers=me).get_json()["results"]]
    assert names == ["ForAda", "ForTeam", "Open"]


def test_changes_are_in_the_audit_log_with_the_app_s_name(client, admin_h):
    created = client.post(f"{API}/apps", headers=admin_h, json={"name": "Audited"}).get_json()
    client.patch(f"{API}/apps/{created['id']}", headers=admin_h, json={"hosts": ["au.example.com"]})
    client.delete(f"{API}/apps/{created['id']}", headers=admin_h)
    events = client.get(f"{API}/audit?per_page=100", headers=admin_h).get_json()["results"]
    found = [(e["event"], e["details"]["app"]) for e in events if e["event"].startswith("app_")]
    assert sorted(found) == [("app_change", "Audited"), ("app_create", "Audited"), ("app_delete", "Audited")]


def test_may_use_follows_the_app_s_groups_and_people(app, client, users, admin_h):
    from keystead.apps.service import find_app, may_use
    from keystead.groups import add_member, create_group
    from keystead.models import User
    for name in ("ada", "bob", "cyd"):
        users.create(name)
    with app.app_context(), app.extensions["keystead.db"].connection_context():
        add_member(create_group("ops"), User.get(User.username_key == "ada"))
    client.post(f"{API}/apps", headers=admin_h, json={"name": "Ops", "allowed_groups": ["ops"], "allowed_users": ["cyd"]})
    client.post(f"{API}/apps", headers=admin_h, json={"name": "All"})
    with app.app_context(), app.extensions["keystead.db"].connection_context():
        person = {n: User.get(User.username_key == n) for n in ("ada", "bob", "cyd")}
        ops, everyone = find_app("ops"), find_app("All")
        assert [may_use(person[n], ops) for n in ("ada", "bob", "cyd")] == [True, False, True]
        assert all(may_use(p, everyone) for p in person.values())
        User.update(locked=True).where(User.username_key == "ada").execute()
        assert not may_use(User.get(User.username_key == "ada"), ops)
