"""Issue 14: invitations by email. People holding `people.invite` invite an address with a
role and groups set in advance (never a role carrying a permission they lack, never a group
they may not pre-set); the link (`/invite/<token>`, or `POST /api/v1/auth/register` with
`invitation`) signs the invitee up once, within 7 days, with Password.SelfRegistration off;
revoked, used and expired invitations fail; `keystead users invite FILE.csv` makes them in
bulk; each step is in the audit log."""
from __future__ import annotations

import csv
import json
import os
import stat
import threading
from datetime import datetime, timedelta

import pytest

from api_support import API, assert_error, bearer, in_db, login
from conftest import STRONG_PASSWORD, csrf_from, post_form
from keystead.models import Group, Membership, User
from keystead.signup.invitations import Invitation
from live import browser, make_live_server, watch_policy_violations  # noqa: F401  (pytest fixtures)
from pages import field_errors, path_of

CLOSED = {"Password.SelfRegistration": False}
INVITER_ROLES = {"Authorization.Roles": {
    # A publisher who may also invite: "publishers, if allowed".
    "inviter": {"permissions": ["documents.read", "documents.create", "documents.share", "apps.manage",
                                "people.invite"]},
}}


@pytest.fixture
def app(make_app):
    return make_app({**CLOSED, **INVITER_ROLES})


def make_group(app, name):
    from keystead import groups
    return in_db(app, lambda: groups.create_group(name))


def join(app, group_name, username):
    from keystead import groups
    in_db(app, lambda: groups.add_member(groups.find_group(group_name), User.get(User.username == username)))


def make_inviter(app, users, username):
    """A person with the custom role "inviter" (set in the database: giving custom roles
    through the account functions is another part's work)."""
    user = users.create(username, role="publisher")[0]
    in_db(app, lambda: User.update(role="inviter").where(User.id == user.id).execute())


def invite(client, headers, email, **body):
    return client.post(f"{API}/invitations", json={"email": email, **body}, headers=headers)


def token_of(url: str) -> str:
    return url.rsplit("/invite/", 1)[1]


def sign_up(client, url, username, password=STRONG_PASSWORD, **extra):
    """Fill in the invitation page at `url`; returns the answer to the form."""
    path = path_of(url)
    return post_form(client, path, {"username": username, "password": password,
                                    "password_confirm": password, **extra})


def account(app, username):
    def read():
        user = User.get_or_none(User.username == username)
        if user is None:
            return None
        names = sorted(g.name for g in Group.select().join(Membership).where(Membership.user == user.id))
        return {"role": user.role, "email": user.email, "email_verified": user.email_verified,
                "groups": names}
    return in_db(app, read)


def events(app, name):
    from keystead.audit.models import AuditEvent
    rows = in_db(app, lambda: list(AuditEvent.select().where(AuditEvent.event == name).dicts()))
    for row in rows:
        row["details"] = json.loads(row["details"]) if isinstance(row["details"], str) else row["details"]
    return rows


# ---------------------------------------------------------------- API: create, list, revoke

def test_administrator_invites_lists_and_revokes_through_the_api(app, client, admin_h):
    make_group(app, "editors")
    r = invite(client, admin_h, "Nia@Example.com", role="publisher", groups=["editors"])
    assert r.status_code == 201, r.get_data(as_text=True)
    body = r.get_json()
    assert body["email"] == "Nia@example.com" and body["role"] == "publisher" and body["groups"] == ["editors"]
    assert body["url"].startswith("http://keystead.test/invite/") and body["sent"] is False
    created = datetime.fromisoformat(body["created_at"].rstrip("Z"))
    assert datetime.fromisoformat(body["expires_at"].rstrip("Z")) - created == timedelta(days=7)

    listed = client.get(f"{API}/invitations", headers=admin_h).get_json()
    assert [i["email"] for i in listed["results"]] == ["Nia@example.com"]
    assert "url" not in listed["results"][0] and token_of(body["url"]) not in str(listed)
    # Only a digest is stored: the token is nowhere in the database.
    assert token_of(body["url"]) not in str(in_db(app, lambda: list(Invitation.select().dicts())))

    assert client.delete(f"{API}/invitations/{body['id']}", headers=admin_h).status_code == 204
    assert client.get(f"{API}/invitations", headers=admin_h).get_json()["results"] == []
    assert_error(client.delete(f"{API}/invitations/{body['id']}", headers=admin_h), 404, "not_found")
    assert [e["details"]["email"] for e in events(app, "invitation_created")] == ["Nia@example.com"]
    assert [e["details"]["id"] for e in events(app, "invitation_revoked")] == [body["id"]]


def test_invitation_input_is_checked(app, client, admin_h, users):
    users.create("taken", email="taken@example.com")
    r = invite(client, admin_h, "not-an-address", role="emperor", groups=["nowhere"])
    problems = assert_error(r, 422, "validation_failed")["fields"]
    assert set(problems) == {"email", "role", "groups"} and "nowhere" in problems["groups"]
    assert_error(invite(client, admin_h, "x@example.com", groups="editors"), 422, "validation_failed")
    assert_error(invite(client, admin_h, "TAKEN@example.com"), 409, "taken")


def test_a_new_invitation_to_the_same_address_ends_the_earlier_one(app, client, admin_h):
    first = invite(client, admin_h, "ola@example.com").get_json()
    second = invite(client, admin_h, "ola@example.com", role="publisher").get_json()
    assert [i["id"] for i in client.get(f"{API}/invitations", headers=admin_h).get_json()["results"]] == [second["id"]]
    assert client.get(path_of(first["url"])).status_code == 400


# ---------------------------------------------------------------- permissions

def test_a_viewer_may_not_invite(client, viewer_h):
    assert "people.invite" in assert_error(invite(client, viewer_h, "x@example.com"), 403, "forbidden")["message"]
    assert_error(client.get(f"{API}/invitations", headers=viewer_h), 403, "forbidden")
    assert_error(client.delete(f"{API}/invitations/1", headers=viewer_h), 403, "forbidden")


def test_a_custom_inviter_role_invites_but_never_with_a_role_above_its_own(app, client, users):
    make_inviter(app, users, "ivy")
    h = bearer(login(client, "ivy")["access_token"])
    assert invite(client, h, "pub@example.com", role="publisher").status_code == 201
    assert invite(client, h, "view@example.com").status_code == 201
    refused = assert_error(invite(client, h, "boss@example.com", role="administrator"), 403, "forbidden")
    assert "administrator" in refused["message"]
    assert [i["email"] for i in client.get(f"{API}/invitations", headers=h).get_json()["results"]] == \
        ["view@example.com", "pub@example.com"]


def test_an_inviter_without_groups_manage_presets_only_their_own_groups(app, client, users, admin_h):
    make_inviter(app, users, "ivy")
    make_group(app, "mine")
    make_group(app, "theirs")
    join(app, "mine", "ivy")
    h = bearer(login(client, "ivy")["access_token"])
    assert invite(client, h, "a@example.com", groups=["mine"]).status_code == 201
    refused = assert_error(invite(client, h, "b@example.com", groups=["mine", "theirs"]), 403, "forbidden")
    assert "theirs" in refused["message"] and "groups.manage" in refused["message"]
    # An administrator (groups.manage) pre-sets any group.
    assert invite(client, admin_h, "c@example.com", groups=["theirs"]).status_code == 201


def test_inviters_see_and_revoke_only_their_own_invitations(app, client, users, admin_h):
    make_inviter(app, users, "ivy")
    h = bearer(login(client, "ivy")["access_token"])
    mine = invite(client, h, "mine@example.com").get_json()
    theirs = invite(client, admin_h, "theirs@example.com").get_json()
    assert [i["email"] for i in client.get(f"{API}/invitations", headers=h).get_json()["results"]] == ["mine@example.com"]
    assert_error(client.delete(f"{API}/invitations/{theirs['id']}", headers=h), 404, "not_found")
    assert client.delete(f"{API}/invitations/{mine['id']}", headers=admin_h).status_code == 204


def test_an_invitation_stops_working_when_its_creator_can_no_longer_grant_its_role(app, client, users, admin_h):
    users.create("ada", role="administrator")
    h = bearer(login(client, "ada")["access_token"])
    url = invite(client, h, "boss@example.com", role="administrator").get_json()["url"]
    from keystead import accounts
    in_db(app, lambda: accounts.set_role(User.get(User.username == "ada"), "viewer"))
    assert client.get(path_of(url)).status_code == 400
    assert_error(client.post(f"{API}/auth/register", json={"invitation": token_of(url), "username": "boss",
                                                           "password": STRONG_PASSWORD}), 400, "invalid_link")
    assert account(app, "boss") is None


def test_a_deleted_inviters_invitations_stop_working(app, client, users, admin_h):
    users.create("ada", role="administrator")
    h = bearer(login(client, "ada")["access_token"])
    url = invite(client, h, "kim@example.com").get_json()["url"]
    ada = in_db(app, lambda: User.get(User.username == "ada").id)
    assert client.delete(f"{API}/users/{ada}", headers=admin_h).status_code == 204
    assert client.get(path_of(url)).status_code == 400
    # The invitee of a used invitation may delete their account; the record stays.
    url = invite(client, admin_h, "lou@example.com").get_json()["url"]
    assert sign_up(client, url, "lou").status_code == 303
    lou = in_db(app, lambda: User.get(User.username == "lou").id)
    assert client.delete(f"{API}/users/{lou}", headers=admin_h).status_code == 204
    assert in_db(app, lambda: Invitation.get(Invitation.email_key == "lou@example.com").used_at) is not None


# ---------------------------------------------------------------- using the link

def test_the_link_signs_up_with_self_registration_off_and_gives_the_role_and_groups(app, client, admin_h):
    make_group(app, "editors")
    make_group(app, "ops")
    assert client.get("/register").status_code == 404  # sign-up is closed to others
    url = invite(client, admin_h, "nia@example.com", role="publisher", groups=["editors", "ops"]).get_json()["url"]
    page = client.get(path_of(url))
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'value="nia@example.com" readonly' in html and 'name="email"' not in html

    r = sign_up(client, url, "nia", first_name="Nia")
    assert r.status_code == 303 and r.headers["Location"].endswith("/profile")
    assert "nia" in client.get("/profile").get_data(as_text=True)  # signed in at once
    assert account(app, "nia") == {"role": "publisher", "email": "nia@example.com", "email_verified": True,
                                   "groups": ["editors", "ops"]}
    accepted = events(app, "invitation_accepted")
    assert [(e["target_name"], e["details"]["email"]) for e in accepted] == [("nia", "nia@example.com")]
    assert client.get(f"{API}/invitations", headers=admin_h).get_json()["results"] == []


def test_the_link_works_once(app, client, admin_h):
    url = invite(client, admin_h, "once@example.com").get_json()["url"]
    assert sign_up(app.test_client(), url, "first").status_code == 303
    again = app.test_client().get(path_of(url))
    assert again.status_code == 400 and "This link does not work" in again.get_data(as_text=True)
    assert_error(client.post(f"{API}/auth/register", json={"invitation": token_of(url), "username": "second",
                                                           "password": STRONG_PASSWORD}), 400, "invalid_link")
    assert account(app, "second") is None


def test_a_refused_sign_up_leaves_the_invitation_usable(app, client, admin_h, users):
    users.create("taken")
    url = invite(client, admin_h, "ivo@example.com").get_json()["url"]
    r = sign_up(client, url, "taken")
    assert r.status_code == 409 and "taken" in field_errors(r.get_data(as_text=True))["username"]
    r = sign_up(client, url, "ivo", password="short")
    assert r.status_code == 422 and "password" in field_errors(r.get_data(as_text=True))
    assert sign_up(client, url, "ivo").status_code == 303


def test_an_expired_invitation_fails_and_lives_seven_days(app, client, admin_h):
    from keystead.signup.invitations import LIFETIME
    assert LIFETIME == timedelta(days=7)
    body = invite(client, admin_h, "late@example.com").get_json()
    in_db(app, lambda: Invitation.update(expires_at=datetime.utcnow() - timedelta(seconds=1))
          .where(Invitation.id == body["id"]).execute())
    assert client.get(path_of(body["url"])).status_code == 400
    assert_error(client.post(f"{API}/auth/register", json={"invitation": token_of(body["url"]), "username": "late",
                                                           "password": STRONG_PASSWORD}), 400, "invalid_link")
    assert client.get(f"{API}/invitations", headers=admin_h).get_json()["results"] == []
    assert account(app, "late") is None


def test_a_revoked_invitation_fails(app, client, admin_h):
    body = invite(client, admin_h, "gone@example.com").get_json()
    form = csrf_from(client.get(path_of(body["url"])).get_data(as_text=True))  # the page was open...
    assert client.delete(f"{API}/invitations/{body['id']}", headers=admin_h).status_code == 204
    page = client.get(path_of(body["url"]))
    assert page.status_code == 400 and "Ask whoever invited you" in page.get_data(as_text=True)
    sent = client.post(path_of(body["url"]), data={"csrf_token": form, "username": "gone", "password": STRONG_PASSWORD,
                                                   "password_confirm": STRONG_PASSWORD})
    assert sent.status_code == 400 and "This link does not work" in sent.get_data(as_text=True)
    assert account(app, "gone") is None


def test_a_made_up_token_fails(client):
    assert client.get("/invite/not-a-real-token").status_code == 400
    assert_error(client.post(f"{API}/auth/register", json={"invitation": "x" * 600, "username": "someone",
                                                           "password": STRONG_PASSWORD}), 400, "invalid_link")


def test_api_sign_up_with_an_invitation(app, client, admin_h):
    make_group(app, "editors")
    body = invite(client, admin_h, "api@example.com", role="publisher", groups=["editors"]).get_json()
    assert_error(client.post(f"{API}/auth/register", json={"username": "api", "email": "api@example.com",
                                                           "password": STRONG_PASSWORD}), 403, "registration_closed")
    token = token_of(body["url"])
    wrong = client.post(f"{API}/auth/register", json={"invitation": token, "username": "api",
                                                      "email": "other@example.com", "password": STRONG_PASSWORD})
    assert "api@example.com" in assert_error(wrong, 422, "validation_failed")["fields"]["email"]
    r = client.post(f"{API}/auth/register", json={"invitation": token, "username": "api",
                                                  "password": STRONG_PASSWORD})
    assert r.status_code == 201, r.get_data(as_text=True)
    user = r.get_json()
    assert (user["email"], user["role"], user["email_verified"], user["groups"]) == \
        ("api@example.com", "publisher", True, ["editors"])
    assert login(client, "api")["access_token"]
    # The address may be given too, when it is the invited one (in any case).
    second = invite(client, admin_h, "Two@example.com").get_json()
    r = client.post(f"{API}/auth/register", json={"invitation": token_of(second["url"]), "username": "two",
                                                  "email": "two@EXAMPLE.com", "password": STRONG_PASSWORD})
    assert r.status_code == 201 and r.get_json()["email"] == "Two@example.com"


def test_invitation_links_never_reach_a_log():
    from keystead.links import redact_link_tokens
    assert redact_link_tokens("GET /invite/abcDEF_-123 HTTP/1.1") == "GET /invite/[redacted] HTTP/1.1"


# ---------------------------------------------------------------- mail

def test_the_invitation_is_mailed_with_its_link(make_app, smtp):
    box, mail_settings = smtp
    app = make_app({**CLOSED, **mail_settings})
    client = app.test_client()
    from conftest import UserFactory
    UserFactory(app).create("root", role="administrator")
    h = bearer(login(client, "root")["access_token"])
    body = invite(client, h, "mailed@example.com", role="publisher").get_json()
    assert body["sent"] is True
    link = box.link_to("mailed@example.com", "/invite/")
    assert link == body["url"]
    assert "publisher" in box.text_of(box.to("mailed@example.com")[-1])
    assert sign_up(client, link, "mailed").status_code == 303

    # On the page: mailed, so the link is not shown.
    browser_client = app.test_client()
    post_form(browser_client, "/login", {"username": "root", "password": STRONG_PASSWORD})
    r = post_form(browser_client, "/admin/invitations/new", {"email": "paged@example.com", "role": "viewer"},
                  page="/admin/invitations")
    assert r.status_code == 201
    shown = r.get_data(as_text=True)
    assert "The invitation was mailed to paged@example.com" in shown and "invitation-link" not in shown
    assert box.link_to("paged@example.com", "/invite/")


# ---------------------------------------------------------------- a race

def test_racing_uses_of_one_link_make_exactly_one_account(make_live_server):
    """Real threads against a live server all send the same invitation at once (a barrier
    lines them up): one account, one 201; every other answer is 400 invalid_link."""
    import requests
    server = make_live_server({**CLOSED})
    from conftest import UserFactory
    UserFactory(server.app).create("root", role="administrator")
    session = requests.Session()
    token = session.post(server(f"{API}/auth/login"), json={"username": "root", "password": STRONG_PASSWORD},
                         timeout=30).json()["access_token"]
    url = session.post(server(f"{API}/invitations"), json={"email": "race@example.com"},
                       headers=bearer(token), timeout=30).json()["url"]
    racers = 10
    barrier = threading.Barrier(racers)
    answers: list = [None] * racers

    def use(i):
        with requests.Session() as s:
            barrier.wait()
            r = s.post(server(f"{API}/auth/register"), timeout=60,
                       json={"invitation": token_of(url), "username": f"racer{i}", "password": STRONG_PASSWORD})
            answers[i] = (r.status_code, r.json().get("error", {}).get("code"))

    threads = [threading.Thread(target=use, args=(i,)) for i in range(racers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(answers) == [(201, None)] + [(400, "invalid_link")] * (racers - 1), answers
    made = in_db(server.app, lambda: [u.username for u in User.select().where(User.email_key == "race@example.com")])
    assert len(made) == 1


# ---------------------------------------------------------------- the admin page

def role_options(html: str) -> list[str]:
    import re
    select = re.search(r'<select[^>]*name="role".*?</select>', html, re.S).group(0)
    return re.findall(r'<option[^>]*value="([^"]+)"', select)


def test_the_invitations_page_invites_shows_the_link_once_and_revokes(app, client, admin, auth):
    make_group(app, "editors")
    auth.login("root")
    assert 'href="/admin/invitations"' in client.get("/profile").get_data(as_text=True)
    page = client.get("/admin/invitations").get_data(as_text=True)
    assert role_options(page) == ["viewer", "publisher", "administrator", "inviter"]
    r = post_form(client, "/admin/invitations/new", {"email": "pia@example.com", "role": "publisher",
                                                     "groups": "editors"}, page="/admin/invitations")
    assert r.status_code == 201
    import re
    link = re.search(r'id="invitation-link">([^<]+)<', r.get_data(as_text=True)).group(1)
    assert link.startswith("http://keystead.test/invite/")
    listing = client.get("/admin/invitations").get_data(as_text=True)
    assert "pia@example.com" in listing and token_of(link) not in listing  # shown once only

    bad = post_form(client, "/admin/invitations/new", {"email": "nope", "role": "viewer"}, page="/admin/invitations")
    assert bad.status_code == 422 and "email" in field_errors(bad.get_data(as_text=True))

    invitation_id = in_db(app, lambda: Invitation.get().id)
    r = post_form(client, f"/admin/invitations/{invitation_id}/revoke", {}, page="/admin/invitations")
    assert r.status_code == 303
    after = client.get("/admin/invitations").get_data(as_text=True)
    assert "revoked" in after and "No invitation is open." in after
    assert client.get(path_of(link)).status_code == 400


def test_the_invitations_page_is_for_inviters_and_offers_only_grantable_roles(app, client, users, auth):
    users.create("vera")
    auth.login("vera")
    assert client.get("/admin/invitations").status_code == 403
    assert "/admin/invitations" not in client.get("/profile").get_data(as_text=True)
    auth.logout()
    make_inviter(app, users, "ivy")
    auth.login("ivy")
    page = client.get("/admin/invitations")
    assert page.status_code == 200
    assert role_options(page.get_data(as_text=True)) == ["viewer", "publisher", "inviter"]
    r = post_form(client, "/admin/invitations/new", {"email": "boss@example.com", "role": "administrator"},
                  page="/admin/invitations")
    assert r.status_code == 400
    assert in_db(app, lambda: Invitation.select().count()) == 0
    assert client.get("/admin/people").status_code == 403  # inviting is not managing people


# ---------------------------------------------------------------- the command line

def test_cli_invites_in_batches_and_a_bad_row_stops_its_batch(app, runner, tmp_path):
    make_group(app, "editors")
    people = tmp_path / "people.csv"
    people.write_text("email,role,groups\nann@example.com,publisher,editors\nbob@example.com,,\n"
                      "cyd@example.com,emperor,\ndee@example.com,,\n", encoding="utf-8")
    out = tmp_path / "links.csv"
    r = runner.invoke(args=["users", "invite", str(people), "--links-out", str(out), "--batch-size", "2"])
    assert r.exit_code == 1
    assert "line 4: role:" in r.stderr and "lines 4-5: nobody of this batch was invited" in r.stderr
    assert "Invited 2 of 4" in r.output
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert [row["email"] for row in rows] == ["ann@example.com", "bob@example.com"]
    listed = runner.invoke(args=["invitations", "list"]).output
    assert "ann@example.com\tpublisher\teditors" in listed and "dee@example.com" not in listed
    assert "2 open invitations" in listed

    client = app.test_client()
    assert sign_up(client, rows[0]["link"], "ann").status_code == 303
    assert account(app, "ann")["groups"] == ["editors"] and account(app, "ann")["role"] == "publisher"

    bob = in_db(app, lambda: Invitation.get(Invitation.email_key == "bob@example.com").id)
    assert runner.invoke(args=["invitations", "revoke", str(bob)]).exit_code == 0
    assert app.test_client().get(path_of(rows[1]["link"])).status_code == 400
    again = runner.invoke(args=["invitations", "revoke", str(bob)])
    assert again.exit_code == 1 and "No open invitation" in again.stderr


def test_cli_refuses_the_old_username_column_with_a_hint(runner, tmp_path):
    people = tmp_path / "people.csv"
    people.write_text("email,username\nann@example.com,ann\n", encoding="utf-8")
    r = runner.invoke(args=["users", "invite", str(people), "--links-out", str(tmp_path / "l.csv")])
    assert r.exit_code == 1 and "line 1:" in r.stderr and "choose their own usernames" in r.stderr


# ---------------------------------------------------------------- in a browser

@pytest.mark.browser
def test_in_chromium_an_administrator_invites_and_the_invitee_signs_up(browser, make_live_server):  # noqa: F811
    server = make_live_server({**CLOSED})
    from conftest import UserFactory
    UserFactory(server.app).create("root", role="administrator")

    admin_page = browser.new_context().new_page()
    admin_page.set_default_timeout(15000)
    violations = watch_policy_violations(admin_page)
    admin_page.goto(server("/login"))
    admin_page.get_by_label("Username or email").fill("root")
    admin_page.get_by_label("Password").fill(STRONG_PASSWORD)
    admin_page.get_by_role("button", name="Log in").click()
    admin_page.wait_for_url(server("/profile"))
    admin_page.get_by_role("link", name="Invitations").click()
    admin_page.wait_for_url(server("/admin/invitations"))
    admin_page.get_by_label("Email").fill("lin@example.com")
    admin_page.get_by_label("Role").select_option("publisher")
    admin_page.get_by_role("button", name="Invite").click()
    link = admin_page.locator("#invitation-link").inner_text().strip()
    assert link.startswith(server("/invite/"))
    assert admin_page.get_by_role("cell", name="lin@example.com", exact=True).is_visible()

    page = browser.new_context().new_page()  # the invitee: another browser, nobody signed in
    page.set_default_timeout(15000)
    violations += watch_policy_violations(page)
    page.goto(link)
    email = page.get_by_label("Email")
    assert email.input_value() == "lin@example.com" and email.get_attribute("readonly") is not None
    page.get_by_label("Username").fill("lin")
    page.get_by_label("Password", exact=True).fill(STRONG_PASSWORD)
    page.get_by_label("Repeat the password").fill(STRONG_PASSWORD)
    page.get_by_role("button", name="Create my account").click()
    page.wait_for_url(server("/profile"))
    assert page.get_by_text("Welcome, lin. Your account is ready.").is_visible()
    assert page.get_by_text("publisher", exact=True).is_visible()

    page.goto(link)  # used: the invalid-link page
    assert page.get_by_role("heading", name="This link does not work").is_visible()
    assert violations == []


# ---------------------------------------------------------------- the rest of the sign-up policy

TERMS = {"Password.TermsURL": "https://example.com/terms", "Password.TermsVersion": "3"}
TEAM_FIELD = {"Profile.Fields": [{"name": "team", "label": "Team", "type": "choice",
                                  "options": ["red", "blue"], "required": True, "at_signup": True}]}


def test_an_invitation_sign_up_accepts_the_terms_and_gives_the_fields_asked_at_sign_up(make_app, admin_h_of):
    """Issue 14: an invitation skips approval, not the terms of service or the profile
    fields asked at sign-up; a refused sign-up leaves the invitation usable."""
    app = make_app({**CLOSED, **TERMS, **TEAM_FIELD})
    client, headers = admin_h_of(app)
    token = token_of(invite(client, headers, "terms@example.com").get_json()["url"])
    base = {"invitation": token, "username": "termsy", "password": STRONG_PASSWORD}
    refused = assert_error(client.post(f"{API}/auth/register", json={**base, "fields": {"team": "green"}}),
                           422, "validation_failed")
    assert set(refused["fields"]) == {"accept_terms", "fields.team"}
    r = client.post(f"{API}/auth/register", json={**base, "accept_terms": True, "fields": {"team": "red"}})
    assert r.status_code == 201, r.get_data(as_text=True)
    user = r.get_json()
    assert (user["fields"], user["terms_accepted_version"], user["status"]) == ({"team": "red"}, "3", "active")
    # Accepted at sign-up: the first login is not asked again.
    assert login(client, "termsy")["access_token"]


def test_the_invitation_page_asks_the_terms_and_the_fields(make_app, admin_h_of):
    app = make_app({**CLOSED, **TERMS, **TEAM_FIELD})
    client, headers = admin_h_of(app)
    path = path_of(invite(client, headers, "page@example.com").get_json()["url"])
    visitor = app.test_client()
    page = visitor.get(path).get_data(as_text=True)
    assert 'id="terms-link" href="https://example.com/terms"' in page and 'name="field_team"' in page
    form = {"username": "paged", "password": STRONG_PASSWORD, "password_confirm": STRONG_PASSWORD}
    r = post_form(visitor, path, form)
    assert r.status_code == 422 or r.status_code == 400
    errors = field_errors(r.get_data(as_text=True))
    assert "accept_terms" in errors and "field_team" in errors
    r = post_form(visitor, path, {**form, "accept_terms": "y", "field_team": "blue"})
    assert r.status_code == 303, r.get_data(as_text=True)
    user = in_db(app, lambda: User.get(User.username == "paged"))
    assert (user.fields, user.terms_accepted_version) == ({"team": "blue"}, "3")


@pytest.fixture
def admin_h_of():
    def make(app):
        from conftest import UserFactory
        UserFactory(app).create("boss", role="administrator")
        client = app.test_client()
        return client, bearer(login(client, "boss", accept_terms=True)["access_token"])
    return make
