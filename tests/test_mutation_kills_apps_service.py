"""Issue 18: registering and changing apps says exactly what is wrong or taken, lists an
app's hosts, groups and people in a stable order, changes only what a request names
(with the audit event naming those fields), makes, replaces and drops an OpenID Connect
client's secret as the app's kind asks, keeps an icon until it is changed, and reads an
app's id and name safely. Written to kill the mutants mutmut found surviving in
app/apps/service.py (docs/testing.md)."""
from __future__ import annotations

from api_support import bearer, in_db, login
from oidc_provider_support import basic
from test_cli_admin import refused, run

from keystead.apps.models import App

API = "/api/v1"
CB = "https://grafana.example.com/cb"


def create(client, headers, **body):
    r = client.post(f"{API}/apps", headers=headers, json=body)
    assert r.status_code == 201, r.get_data(as_text=True)
    return r.get_json()


def patch(client, headers, app_id, **body):
    return client.patch(f"{API}/apps/{app_id}", headers=headers, json=body)


def changes(client, headers) -> list:
    events = client.get(f"{API}/audit?per_page=100", headers=headers).get_json()["results"]
    return [e["details"]["changed"] for e in reversed(events) if e["event"] == "app_change"]


def secret_works(client, client_id, secret) -> bool:
    r = client.post("/oidc/introspect", data={"token": "nonsense"}, headers=basic(client_id, secret))
    return r.status_code == 200


# ---------------------------------------------------------------- what is wrong or taken

def test_refusals_say_exactly_what_is_missing_taken_or_unknown(client, admin_h):
    r = client.post(f"{API}/apps", headers=admin_h, json={"name": "", "icon": "G"})
    assert r.status_code == 422 and r.get_json()["error"]["fields"] == {"name": "Enter a name."}
    long = "g" * 150
    r = client.post(f"{API}/apps", headers=admin_h, json={
        "name": "A", "allowed_groups": ["nosuch", long], "allowed_users": ["nobody"]})
    assert r.status_code == 422
    assert r.get_json()["error"]["fields"] == {
        "allowed_groups": f"No such group: 'nosuch', {'g' * 100!r}.", "allowed_users": "No such person: 'nobody'."}
    create(client, admin_h, name="Grafana", hosts=["b.example.com", "a.example.com"])
    r = client.post(f"{API}/apps", headers=admin_h, json={"name": "GRAFANA"})
    error = r.get_json()["error"]
    assert (r.status_code, error["code"]) == (409, "taken")
    assert error["fields"] == {"name": "An app named 'GRAFANA' already exists."}
    r = client.post(f"{API}/apps", headers=admin_h, json={"name": "Other", "hosts": ["c.example.com", "b.example.com",
                                                                                      "a.example.com"]})
    error = r.get_json()["error"]
    assert (r.status_code, error["code"]) == (409, "taken")
    assert error["fields"] == {"hosts": "Another app already answers for a.example.com, b.example.com."}
    assert [a["name"] for a in client.get(f"{API}/apps", headers=admin_h).get_json()["results"]] == ["Grafana"]


def test_every_bad_field_is_named_at_once(client, admin_h):
    r = client.post(f"{API}/apps", headers=admin_h, json={
        "name": "A", "hosts": ["not a host"], "redirect_uris": ["/relative"], "launch_url": "javascript:x",
        "icon": "ftp://x", "allowed_groups": ["nosuch"], "allowed_users": ["nobody"]})
    assert r.status_code == 422
    assert set(r.get_json()["error"]["fields"]) == {"hosts", "redirect_uris", "launch_url", "icon",
                                                     "allowed_groups", "allowed_users"}


def test_renaming_to_another_apps_name_is_taken_and_keeping_ones_own_hosts_is_not(client, admin_h):
    one = create(client, admin_h, name="One", hosts=["one.example.com"])
    create(client, admin_h, name="Two", hosts=["two.example.com"])
    r = patch(client, admin_h, one["id"], name="two")
    assert r.status_code == 409 and r.get_json()["error"]["fields"] == {"name": "An app named 'two' already exists."}
    r = patch(client, admin_h, one["id"], hosts=["two.example.com"])
    assert r.status_code == 409 and "hosts" in r.get_json()["error"]["fields"]
    r = patch(client, admin_h, one["id"], name="ONE", hosts=["one.example.com", "uno.example.com"])
    assert r.status_code == 200 and r.get_json()["name"] == "ONE"
    assert r.get_json()["hosts"] == ["one.example.com", "uno.example.com"]


# ---------------------------------------------------------------- what an app shows

def test_hosts_groups_and_people_are_listed_in_order_whatever_their_case(app, client, users, admin_h):
    from keystead.groups import create_group
    for name in ("zed", "Amy", "bob"):
        users.create(name)
    in_db(app, lambda: [create_group(g) for g in ("gamma", "Alpha", "beta")])
    made = create(client, admin_h, name="Grafana", hosts=["b.example.com", "a.example.com"],
                  allowed_groups=["gamma", "Alpha", "beta"], allowed_users=["zed", "Amy", "bob"])
    for shown in (made, client.get(f"{API}/apps/{made['id']}", headers=admin_h).get_json()):
        assert shown["hosts"] == ["a.example.com", "b.example.com"]
        assert shown["allowed_groups"] == ["Alpha", "beta", "gamma"]
        assert shown["allowed_users"] == ["Amy", "bob", "zed"]
    create(client, admin_h, name="alpha")
    assert [a["name"] for a in client.get(f"{API}/apps", headers=admin_h).get_json()["results"]] == ["alpha", "Grafana"]


def test_redirect_uris_stored_badly_show_as_none(app, client, admin_h):
    made = create(client, admin_h, name="Grafana", redirect_uris=[CB])
    for stored, shown in (("not json", []), ('{"a": 1}', []), (f'["{CB}", 3, null]', [CB]), ("", [])):
        in_db(app, lambda: App.update(redirect_uris=stored).where(App.id == made["id"]).execute())
        assert client.get(f"{API}/apps/{made['id']}", headers=admin_h).get_json()["redirect_uris"] == shown


def test_the_defaults_ask_consent_and_make_a_confidential_client(client, admin_h):
    made = create(client, admin_h, name="Grafana", redirect_uris=[CB])
    assert (made["consent"], made["public"], made["launch_url"], made["hosts"]) == (True, False, "", [])
    made = create(client, admin_h, name="Quiet", consent=False)
    assert made["consent"] is False and made["client_id"] is None


# ---------------------------------------------------------------- changes

def test_a_change_names_only_the_fields_that_changed(client, admin_h):
    made = create(client, admin_h, name="Grafana", icon="G", launch_url="https://grafana.example.com/")
    assert patch(client, admin_h, made["id"], name="Grafana", icon="G", launch_url="https://grafana.example.com/",
                 consent=True, public=False).status_code == 200
    assert changes(client, admin_h) == []  # nothing changed: no event
    assert patch(client, admin_h, made["id"], launch_url="https://grafana.example.com/home", consent=False,
                 hosts=["grafana.example.com"]).status_code == 200
    assert patch(client, admin_h, made["id"], allowed_users=[], public=True).status_code == 200
    assert changes(client, admin_h) == [["consent", "hosts", "launch_url"], ["allowed_users", "public"]]


def test_an_icon_stays_until_it_is_changed_and_an_empty_one_is_the_names_letter(client, admin_h):
    made = create(client, admin_h, name="Grafana")
    assert made["icon"] == "G"
    assert patch(client, admin_h, made["id"], name="Loki").get_json()["icon"] == "G"
    assert patch(client, admin_h, made["id"], icon="").get_json()["icon"] == "L"
    assert patch(client, admin_h, made["id"], name="Mimir", icon="").get_json()["icon"] == "M"


def test_changing_who_may_use_an_app_replaces_only_the_list_given(app, client, users, admin_h):
    from keystead.groups import create_group
    users.create("ada")
    users.create("bob")
    in_db(app, lambda: [create_group(g) for g in ("ops", "dev")])
    made = create(client, admin_h, name="Grafana", allowed_groups=["ops"], allowed_users=["ada"])
    r = patch(client, admin_h, made["id"], allowed_groups=["dev"])
    assert (r.get_json()["allowed_groups"], r.get_json()["allowed_users"]) == (["dev"], ["ada"])
    r = patch(client, admin_h, made["id"], allowed_users=["bob"])
    assert (r.get_json()["allowed_groups"], r.get_json()["allowed_users"]) == (["dev"], ["bob"])


# ---------------------------------------------------------------- the client's secret

def test_redirect_uris_given_later_make_a_confidential_client_with_a_working_secret(client, admin_h):
    made = create(client, admin_h, name="Grafana")
    r = patch(client, admin_h, made["id"], redirect_uris=[CB])
    body = r.get_json()
    assert r.status_code == 200 and body["client_id"].startswith("ksc_")
    assert secret_works(client, body["client_id"], body["client_secret"])
    assert changes(client, admin_h) == [["client_id", "redirect_uris", "client_secret"]]
    again = patch(client, admin_h, made["id"], redirect_uris=[CB, CB + "2"]).get_json()
    assert again["client_id"] == body["client_id"] and "client_secret" not in again
    assert secret_works(client, body["client_id"], body["client_secret"])


def test_redirect_uris_given_later_to_a_public_app_make_a_client_without_a_secret(client, admin_h):
    made = create(client, admin_h, name="Spa", public=True)
    body = patch(client, admin_h, made["id"], redirect_uris=[CB]).get_json()
    assert body["client_id"].startswith("ksc_") and "client_secret" not in body


def test_a_client_made_public_loses_its_secret_and_made_confidential_again_gets_a_new_one(client, admin_h):
    made = create(client, admin_h, name="Grafana", redirect_uris=[CB])
    client_id, old = made["client_id"], made["client_secret"]
    r = patch(client, admin_h, made["id"], public=True)
    assert r.status_code == 200 and "client_secret" not in r.get_json()
    assert not secret_works(client, client_id, old)
    assert changes(client, admin_h)[-1] == ["public", "client_secret"]
    r = patch(client, admin_h, made["id"], public=False)
    new = r.get_json()["client_secret"]
    assert new != old and secret_works(client, client_id, new) and not secret_works(client, client_id, old)
    assert changes(client, admin_h)[-1] == ["public", "client_secret"]


def test_a_new_secret_for_a_public_client_is_none_and_for_no_client_a_refusal(client, admin_h):
    spa = create(client, admin_h, name="Spa", public=True, redirect_uris=[CB])
    r = patch(client, admin_h, spa["id"], new_secret=True)
    assert r.status_code == 200 and "client_secret" not in r.get_json()
    plain = create(client, admin_h, name="Plain")
    r = patch(client, admin_h, plain["id"], new_secret=True)
    assert r.status_code == 422 and "redirect URIs" in r.get_json()["error"]["fields"]["new_secret"]


# ---------------------------------------------------------------- ids and names

def test_an_id_past_64_bits_is_no_app(client, admin_h):
    create(client, admin_h, name="Grafana")
    for app_id in ("0", str(2**63), str(2**64)):
        assert client.get(f"{API}/apps/{app_id}", headers=admin_h).status_code == 404, app_id


def test_the_command_line_finds_an_app_by_name_or_id(runner, app, client, admin_h):
    made = create(client, admin_h, name="Grafana")
    for name in ("grafana", "  GRAFANA ", str(made["id"])):
        r = run(runner, "apps", "show", name)
        assert r.exit_code == 0 and r.output.startswith(f"Grafana (id {made['id']})"), (name, r.output)
    for name in ("", "  ", "99999", str(2**63), "graf"):
        refused(run(runner, "apps", "show", name), "No app named")


def test_a_viewer_may_neither_list_nor_see_apps(client, users, admin_h):
    made = create(client, admin_h, name="Grafana")
    users.create("vera")
    viewer = bearer(login(client, "vera")["access_token"])
    assert client.get(f"{API}/apps", headers=viewer).status_code == 403
    assert client.get(f"{API}/apps/{made['id']}", headers=viewer).status_code == 403
