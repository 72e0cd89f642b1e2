"""Issue 15: the app pages. /admin/apps registers, changes (restricting to groups or people),
and deletes apps, showing a client secret once; /apps shows the signed-in person the apps
they may use, and `/` leads there when they have any."""
from __future__ import annotations

from conftest import STRONG_PASSWORD, csrf_from, post_form


def _login(auth, client, users, username, role="viewer"):
    users.create(username, role=role)
    r = auth.login(username)
    assert r.status_code == 303, r.get_data(as_text=True)
    return client


def test_an_administrator_registers_an_app_restricted_to_a_group_in_the_browser(app, client, auth, users):
    from keystead.groups import create_group
    with app.app_context(), app.extensions["keystead.db"].connection_context():
        create_group("ops")
    _login(auth, client, users, "root", "administrator")
    assert "Manage apps" in client.get("/profile").get_data(as_text=True)
    r = post_form(client, "/admin/apps/new", {
        "name": "Grafana", "launch_url": "https://grafana.example.com/", "hosts": "grafana.example.com",
        "redirect_uris": "https://grafana.example.com/login/generic_oauth", "allowed_groups": "ops",
        "consent": "y"}, page="/admin/apps")
    assert r.status_code == 200, r.get_data(as_text=True)
    page = r.get_data(as_text=True)
    assert "kss_" in page and "not shown again" in page
    app_path = f"/admin/apps/{_app_id(app, 'Grafana')}"
    again = client.get(app_path).get_data(as_text=True)
    assert "kss_" not in again and "ops" in again and "grafana.example.com" in again
    r = post_form(client, app_path + "/secret", {}, page=app_path)
    assert r.status_code == 302 and "/sudo" in r.headers["Location"]  # a credential: password again
    post_form(client, "/sudo", {"password": STRONG_PASSWORD})
    r = post_form(client, app_path + "/secret", {}, page=app_path)
    assert r.status_code == 200 and "kss_" in r.get_data(as_text=True)


def _app_id(app, name):
    from keystead.apps.models import App
    with app.app_context(), app.extensions["keystead.db"].connection_context():
        return App.get(App.name == name).id


def test_bad_input_is_shown_beside_its_field_and_nothing_is_written(app, client, auth, users):
    _login(auth, client, users, "root", "administrator")
    r = post_form(client, "/admin/apps/new", {"name": "Bad", "hosts": "not a host",
                                              "allowed_users": "nobody-here"}, page="/admin/apps")
    assert r.status_code == 422
    page = r.get_data(as_text=True)
    assert "not a host" in page and "nobody-here" in page
    assert "Bad</a>" not in client.get("/admin/apps").get_data(as_text=True)


def test_changing_and_deleting_an_app(app, client, auth, users):
    _login(auth, client, users, "root", "administrator")
    users.create("ada")
    post_form(client, "/admin/apps/new", {"name": "Wiki", "hosts": "wiki.example.com"}, page="/admin/apps")
    path = f"/admin/apps/{_app_id(app, 'Wiki')}"
    r = post_form(client, path, {"name": "Wiki", "hosts": "wiki.example.com\nwiki2.example.com",
                                 "allowed_users": "ada"})
    assert r.status_code == 303
    page = client.get(path).get_data(as_text=True)
    assert "wiki2.example.com" in page and "ada" in page
    r = post_form(client, path + "/delete", {"confirm": "y"})
    assert r.status_code == 303
    assert client.get(path).status_code == 404


def test_a_viewer_cannot_manage_apps_and_sees_no_link(client, auth, users):
    _login(auth, client, users, "vera")
    assert "Manage apps" not in client.get("/profile").get_data(as_text=True)
    assert client.get("/admin/apps").status_code == 403


def test_a_publisher_sees_only_the_apps_they_registered(app, client, auth, users, admin_h):
    client.post("/api/v1/apps", headers=admin_h, json={"name": "Theirs"})
    other = app.test_client()
    _login(auth, client, users, "pub", "publisher")
    post_form(client, "/admin/apps/new", {"name": "Mine"}, page="/admin/apps")
    listed = client.get("/admin/apps").get_data(as_text=True)
    assert "Mine" in listed and "Theirs" not in listed
    assert client.get(f"/admin/apps/{_app_id(app, 'Theirs')}").status_code == 404
    del other


def test_the_launcher_shows_the_apps_a_person_may_use_and_the_start_leads_there(app, client, auth, users, admin_h):
    _login(auth, client, users, "ada")
    assert client.get("/").headers["Location"].endswith("/profile")  # no apps yet
    for body in ({"name": "Open", "launch_url": "https://open.example.com/"},
                 {"name": "Closed", "allowed_users": ["root"]}):
        assert app.test_client().post("/api/v1/apps", headers=admin_h, json=body).status_code == 201
    page = client.get("/apps").get_data(as_text=True)
    assert "Open" in page and "https://open.example.com/" in page and "Closed" not in page
    assert client.get("/").headers["Location"].endswith("/apps")
