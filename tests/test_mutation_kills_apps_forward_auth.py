"""Issue 18: forward-auth reads the original request from every form a proxy sends it,
admits exactly the people and groups an app lists, sends the identity headers by their
documented names with every value on one line, holds a session cookie only for its
person, epoch and uniquifier, keeps decisions and the app registry in the worker process
for as long as it is told and no longer, bounds that memory, and answers a cached
decision before Flask with the same headers. Written to kill the mutants mutmut found
surviving in app/apps/forward_auth.py (docs/testing.md)."""
from __future__ import annotations

import time
from urllib.parse import quote

import pytest
import time_machine
from api_support import bearer, in_db, login

from conftest import STRONG_PASSWORD, post_form
from test_query_counts import counting_queries

from keystead.apps import forward_auth
from keystead.apps.forward_auth import MAX_DECISIONS, Cache, cache_of
from keystead.models import User

API = "/api/v1"
AUTH_REQUEST = f"{API}/authz/auth-request"
FORWARD_AUTH = f"{API}/authz/forward-auth"
GRAFANA = "https://grafana.example.com/d/home"
NOTES = "https://notes.example.com/"
BOTH = "https://both.example.com/"
WIKI = "https://wiki.example.com:8443/"


def original(url=GRAFANA, **extra):
    return {"X-Original-URL": url, **extra}


@pytest.fixture
def world(app, client, users, admin_h):
    """ada (groups ops, Zeta, beta), bob (no group), carl (no group); Grafana open to ops,
    Notes to ada alone, Both to ops and carl, the Wiki to everyone signed in."""
    from keystead.groups import add_member, create_group
    ada = users.create("ada", first_name="Ada", last_name="Lovelace")[0]
    users.create("bob")
    users.create("carl")
    with app.app_context(), app.extensions["keystead.db"].connection_context():
        for name in ("ops", "Zeta", "beta"):
            add_member(create_group(name), ada)
    for body in ({"name": "Grafana", "hosts": ["grafana.example.com"], "allowed_groups": ["ops"]},
                 {"name": "Notes", "hosts": ["notes.example.com"], "allowed_users": ["ada"]},
                 {"name": "Both", "hosts": ["both.example.com"], "allowed_groups": ["ops"],
                  "allowed_users": ["carl"]},
                 {"name": "Wiki", "hosts": ["wiki.example.com:8443"]}):
        r = client.post(f"{API}/apps", headers=admin_h, json=body)
        assert r.status_code == 201, r.get_data(as_text=True)
    return app


def signed_in(app, username):
    client = app.test_client()
    r = post_form(client, "/login", {"username": username, "password": STRONG_PASSWORD})
    assert r.status_code == 303, r.get_data(as_text=True)
    return client


def user_id(app, username) -> int:
    return in_db(app, lambda: User.get(User.username_key == username).id)


def status(client, url=GRAFANA, path=AUTH_REQUEST, **headers) -> int:
    return client.get(path, headers=original(url, **headers)).status_code


def sign_ins(client, admin_h) -> list:
    events = client.get(f"{API}/audit?per_page=100", headers=admin_h).get_json()["results"]
    return [(e["actor"]["username"], e["details"]["app"], e["details"]["via"])
            for e in events if e["event"] == "app_sign_in"]


# ---------------------------------------------------------------- who may use an app

def test_an_app_listing_people_only_admits_them(world):
    assert status(signed_in(world, "ada"), NOTES) == 200
    assert status(signed_in(world, "bob"), NOTES) == 403


def test_an_app_listing_a_group_and_a_person_admits_both_and_nobody_else(world):
    assert status(signed_in(world, "ada"), BOTH) == 200   # by the group
    assert status(signed_in(world, "carl"), BOTH) == 200  # by name
    assert status(signed_in(world, "bob"), BOTH) == 403


# ---------------------------------------------------------------- the identity headers

def test_the_identity_headers_have_their_documented_names_and_groups_sorted_case_insensitively(world):
    client = signed_in(world, "ada")
    for path in (AUTH_REQUEST, FORWARD_AUTH, AUTH_REQUEST):  # the last one from the cache
        r = client.get(path, headers=original())
        assert r.status_code == 200
        sent = [(k, v) for k, v in r.headers.items() if k.lower().startswith("remote-")]
        assert sent == [("Remote-User", "ada"), ("Remote-Email", "ada@example.com"),
                        ("Remote-Name", "Ada Lovelace"), ("Remote-Groups", "beta,ops,Zeta")]


def test_groups_are_sorted_by_their_lower_case_names(world):
    """Lower case: "x_y" comes before "xa" ("_" is between the upper and lower case letters)."""
    from keystead.groups import add_member, create_group

    def join():
        bob = User.get(User.username_key == "bob")
        for name in ("xa", "X_Y"):
            add_member(create_group(name), bob)
    in_db(world, join)
    assert signed_in(world, "bob").get(AUTH_REQUEST, headers=original(WIKI)).headers["Remote-Groups"] == "X_Y,xa"


def test_a_person_without_a_name_is_named_by_their_username_and_without_email_by_nothing(world):
    def strip_bob():
        User.update(first_name="", last_name="", email=None).where(User.username_key == "bob").execute()
    in_db(world, strip_bob)  # as a directory account may be
    r = signed_in(world, "bob").get(AUTH_REQUEST, headers=original(WIKI))
    assert r.status_code == 200
    assert (r.headers["Remote-Name"], r.headers["Remote-Email"], r.headers["Remote-Groups"]) == ("bob", "", "")


def test_line_breaks_and_control_characters_in_a_name_are_sent_as_spaces(world):
    def odd_name():
        User.update(first_name="Ada\r\nX-Admin: 1", last_name="Love\x7flace\t").where(
            User.username_key == "ada").execute()
    in_db(world, odd_name)  # as a directory could send it
    r = signed_in(world, "ada").get(AUTH_REQUEST, headers=original())
    assert r.headers["Remote-Name"] == "Ada  X-Admin: 1 Love lace "
    assert "X-Admin" not in r.headers


def test_tokens_and_keys_carry_the_persons_name_and_groups_and_a_groupless_person_has_none(world, client):
    ada = login(client, "ada")["access_token"]
    r = client.get(AUTH_REQUEST, headers=original(Authorization=f"Bearer {ada}"))
    assert (r.status_code, r.headers["Remote-Name"], r.headers["Remote-Groups"]) == (200, "Ada Lovelace", "beta,ops,Zeta")
    bob = login(client, "bob")["access_token"]
    r = client.get(AUTH_REQUEST, headers=original(WIKI, Authorization=f"Bearer {bob}"))
    assert (r.status_code, r.headers["Remote-User"], r.headers["Remote-Groups"]) == (200, "bob", "")


def test_sign_ins_say_whether_a_session_a_token_or_a_key_was_used(world, client, admin_h):
    assert status(signed_in(world, "ada")) == 200
    token = login(client, "ada")["access_token"]
    assert status(client, Authorization=f"Bearer {token}") == 200
    key = client.post(f"{API}/users/me/api-keys", headers=bearer(token),
                      json={"name": "proxy", "current_password": STRONG_PASSWORD}).get_json()["key"]
    assert status(client, Authorization=f"Key {key}") == 200
    assert sorted(sign_ins(client, admin_h)) == [("ada", "Grafana", "key"), ("ada", "Grafana", "session"),
                                                 ("ada", "Grafana", "token")]


def test_each_sign_in_s_first_visit_to_an_app_is_recorded(world, admin_h):
    """Two sign-ins of one person (two browsers, a minute apart) are two app_sign_in events."""
    with time_machine.travel(time.time(), tick=False) as traveller:
        first = signed_in(world, "ada")
        traveller.shift(60)
        second = signed_in(world, "ada")
        assert [status(first), status(second), status(first), status(second)] == [200] * 4
    found = [s for s in sign_ins(world.test_client(), admin_h) if s[1] == "Grafana"]
    assert found == [("ada", "Grafana", "session")] * 2


# ---------------------------------------------------------------- the original request

def test_an_original_url_without_a_scheme_is_no_original_request(world):
    r = signed_in(world, "ada").get(AUTH_REQUEST, headers=original("grafana.example.com/d/home"))
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "no_original_request"


@pytest.mark.parametrize("url", [
    "https://grafana.example.com?orgId=1?x", "https://grafana.example.com#panel#x",
    "HTTPS://Grafana.Example.com./d/home", "http://grafana.example.com:80/d/home",
    "https://grafana.example.com:443", "https://grafana.example.com/login?next=https://evil.example.com/",
])
def test_the_original_urls_host_is_found_whatever_follows_it_and_with_the_default_port(world, url):
    assert status(signed_in(world, "ada"), url) == 200


@pytest.mark.parametrize("url", ["https://grafana.example.com:80/", "http://grafana.example.com:443/",
                                 "https://grafana.example.com:8443/"])
def test_another_port_is_another_host(world, url):
    r = signed_in(world, "ada").get(AUTH_REQUEST, headers=original(url))
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "unknown_app"


def test_x_forwarded_host_the_first_of_several_and_proto_defaulting_to_https(world):
    ada = signed_in(world, "ada")
    headers = {"X-Forwarded-Host": " grafana.example.com , evil.example.com,wiki.example.com:8443",
               "X-Forwarded-Proto": " HTTPS, ftp, http"}
    assert ada.get(AUTH_REQUEST, headers=headers).status_code == 200
    anonymous = world.test_client()
    r = anonymous.get(FORWARD_AUTH, headers={"X-Forwarded-Host": "grafana.example.com", "X-Forwarded-Uri": "d/home"})
    assert r.headers["Location"] == "http://keystead.test/login?next=" + quote("https://grafana.example.com/d/home", safe="")
    r = anonymous.get(FORWARD_AUTH, headers={"X-Forwarded-Host": "grafana.example.com", "X-Forwarded-Proto": "http"})
    assert r.headers["Location"] == "http://keystead.test/login?next=" + quote("http://grafana.example.com/", safe="")


def test_an_empty_x_forwarded_host_is_no_original_request(world):
    r = signed_in(world, "ada").get(AUTH_REQUEST, headers={"X-Forwarded-Host": "", "X-Forwarded-Uri": "/"})
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "no_original_request"


def test_the_login_redirect_joins_a_public_url_ending_in_a_slash_without_doubling_it(make_app, users):
    app = make_app({"Server.PublicURL": "https://auth.example.com/"})
    from conftest import UserFactory
    UserFactory(app).create("root", role="administrator")
    client = app.test_client()
    token = login(client, "root")["access_token"]
    assert client.post(f"{API}/apps", headers=bearer(token), json={"name": "G", "hosts": ["grafana.example.com"]}).status_code == 201
    r = client.get(FORWARD_AUTH, headers=original())
    assert r.headers["Location"] == "https://auth.example.com/login?next=" + quote(GRAFANA, safe="")


# ---------------------------------------------------------------- the session cookie

def test_the_session_cookie_is_found_among_others_and_quoted(world):
    name = world.config["SESSION_COOKIE_NAME"]
    value = signed_in(world, "ada").get_cookie(name).value
    bare = world.test_client(use_cookies=False)
    for cookie in (f"theme=dark; flag; {name}={value}", f'{name}="{value}"; theme=dark',
                   f"  {name}={value}  ;x=1"):
        assert status(bare, Cookie=cookie) == 200, cookie
    assert status(bare, Cookie=f"theme=dark;{name}={value}") == 200  # no space after the semicolon
    assert status(bare, Cookie=f"theme=dark; x{name}={value}") == 401


def test_a_cookie_only_counts_as_sent_first_and_unaltered(world):
    name = world.config["SESSION_COOKIE_NAME"]
    value = signed_in(world, "ada").get_cookie(name).value
    bare = world.test_client(use_cookies=False)
    assert status(bare, Cookie=f"{name}=x=y; {name}={value}") == 401  # the first one counts
    assert status(bare, Cookie=f"{name}=X{value}X") == 401
    assert status(bare, Cookie=f'{name}="{value}"') == 200


def _forge(client, session_id: str) -> None:
    with client.session_transaction() as s:
        s["_user_id"] = session_id


def test_a_session_holds_only_for_its_persons_epoch_and_uniquifier_and_while_unlocked(world, admin_h):
    ada = in_db(world, lambda: User.get(User.username_key == "ada"))
    client = signed_in(world, "ada")
    assert status(client) == 200
    for forged in (f"{ada.id}:{ada.session_epoch + 1}:{ada.uniquifier}",
                   f"{ada.id}:{ada.session_epoch}:{ada.uniquifier[:-1]}x",
                   f"{ada.id}:{ada.session_epoch}", "x:0:abc"):
        _forge(client, forged)
        assert status(client) == 401, forged
    _forge(client, f"{ada.id}:{ada.session_epoch}:{ada.uniquifier}")
    assert status(client) == 200
    in_db(world, lambda: User.update(locked=True).where(User.id == ada.id).execute())
    cache_of(world).forget()  # as another worker process would see it
    assert status(client) == 401


def test_a_deleted_persons_session_is_no_session(world, admin_h):
    client = signed_in(world, "ada")
    assert status(client) == 200
    assert world.test_client().delete(f"{API}/users/{user_id(world, 'ada')}", headers=admin_h).status_code == 204
    assert status(client) == 401


def test_a_session_idle_past_inactivity_is_no_session(world):
    client = signed_in(world, "ada")
    with time_machine.travel(time.time() + 9 * 3600, tick=False):  # Inactivity: 8 hours
        assert status(client) == 401


# ---------------------------------------------------------------- the cache

def test_a_change_made_in_this_process_takes_effect_at_once(world, admin_h):
    bob = signed_in(world, "bob")
    assert status(bob, WIKI) == 200
    wiki = [a for a in world.test_client().get(f"{API}/apps", headers=admin_h).get_json()["results"]
            if a["name"] == "Wiki"][0]
    r = world.test_client().patch(f"{API}/apps/{wiki['id']}", headers=admin_h, json={"allowed_groups": ["ops"]})
    assert r.status_code == 200
    assert status(bob, WIKI) == 403


def test_the_decision_key_holds_the_credentials_and_the_host(world, client):
    ada = signed_in(world, "ada")
    assert status(ada) == 200
    assert status(ada, "https://evil.example.com/") == 403
    assert status(signed_in(world, "bob")) == 403
    token = login(client, "ada")["access_token"]
    other = login(client, "bob")["access_token"]
    bare = world.test_client()
    assert status(bare, Authorization=f"Bearer {token}") == 200
    assert status(bare, Authorization=f"Bearer {other}") == 403


def test_another_process_s_change_is_seen_when_the_kept_answers_expire(world, make_app, admin_h):
    """Decisions and the app registry are kept `seconds` in each worker process: with an
    hour, a change made by another process is not seen; with none, at once."""
    other_process = make_app().test_client()
    client = signed_in(world, "ada")
    for seconds, seen in ((3600, False), (0, True)):
        world.extensions["keystead.forward_auth"] = Cache(seconds)
        assert status(client) == 200
        assert status(client, f"https://new{seconds}.example.com/") == 403
        ada = user_id(world, "ada")
        r = other_process.patch(f"{API}/users/{ada}", headers=admin_h, json={"locked": True})
        assert r.status_code == 200
        r = other_process.post(f"{API}/apps", headers=admin_h,
                               json={"name": f"New {seconds}", "hosts": [f"new{seconds}.example.com"]})
        assert r.status_code == 201
        assert (status(client) == 401) is seen
        gone = world.test_client(use_cookies=False)
        assert (status(gone, f"https://new{seconds}.example.com/") == 401) is seen  # an app's host now
        assert other_process.patch(f"{API}/users/{ada}", headers=admin_h, json={"locked": False}).status_code == 200
        client = signed_in(world, "ada")


def test_the_decisions_kept_are_bounded_and_start_again_empty(world):
    client = signed_in(world, "ada")
    assert status(client) == 200
    cache = cache_of(world)
    for n in range(MAX_DECISIONS - len(cache.decisions)):
        cache.put(("filler", n), cache.decisions[next(iter(cache.decisions))][1])
    assert len(cache.decisions) == MAX_DECISIONS
    assert status(client, WIKI) == 200  # one more: the cache starts again
    assert len(cache.decisions) == 1
    with counting_queries(world) as executed:
        assert status(client) == 200
    assert executed  # decided afresh


def test_the_sign_ins_remembered_are_bounded_and_start_again_empty(world, admin_h):
    client = signed_in(world, "ada")
    assert status(client) == 200
    cache = cache_of(world)
    cache.signed_in_apps.update(("filler", n) for n in range(MAX_DECISIONS - len(cache.signed_in_apps)))
    assert status(client, WIKI) == 200  # one more: the record starts again
    assert len(cache.signed_in_apps) == 1
    cache.forget()
    assert status(client) == 200  # so this sign-in's first visit to Grafana is recorded again
    assert [s for s in sign_ins(world.test_client(), admin_h) if s[1] == "Grafana"] == [("ada", "Grafana", "session")] * 2


# ---------------------------------------------------------------- the fast path

def test_a_cached_allowed_decision_is_answered_before_flask_with_the_same_identity(world):
    client = signed_in(world, "ada")
    first = client.get(AUTH_REQUEST, headers=original())
    assert "Content-Security-Policy" in first.headers  # Flask's answer
    for path in (AUTH_REQUEST, FORWARD_AUTH):  # one decision serves both routes
        again = client.get(path, headers=original())
        assert again.status_code == 200 and again.get_data() == b""
        assert "Content-Security-Policy" not in again.headers and "Content-Type" not in again.headers
        assert again.headers["Cache-Control"] == "no-store" and again.headers["Content-Length"] == "0"
        assert again.headers["Remote-User"] == "ada"
        head = client.head(path, headers=original())
        assert head.status_code == 200 and "Content-Security-Policy" not in head.headers
        assert head.headers["Remote-User"] == "ada"
    bare = world.test_client()
    token = login(bare, "ada")["access_token"]
    assert status(bare, Authorization=f"Bearer {token}") == 200
    r = bare.get(AUTH_REQUEST, headers=original(Authorization=f"Bearer {token}"))
    assert "Content-Security-Policy" not in r.headers


def test_the_fast_path_answers_only_reads_of_its_two_routes_and_never_a_refusal(world):
    client = signed_in(world, "ada")
    assert status(client) == 200
    assert client.post(AUTH_REQUEST, headers=original()).status_code == 405
    assert client.get(f"{API}/users/me", headers=original()).status_code == 401
    bob = signed_in(world, "bob")
    assert [status(bob) for _ in range(2)] == [403, 403]
    assert status(bob, "https://evil.example.com/") == 403
