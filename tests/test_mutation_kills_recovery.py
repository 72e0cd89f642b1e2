"""Issue 18: the flows of app/recovery.py do what people see them do. A sign-up with an
address in use mails its owner a notice pointing at the reset page, and makes no link; a
verification or reset link verifies only its own person; a reset through a link ends the
person's API keys and is audited as `password_reset`; a verification or reset mail asked
for goes only to the owner of the address (unverified and unlocked; with a password kept
here), and only when the text sent is at most 320 characters. A person an administrator
creates keeps the names, role, fields and groups given, counts as verified, and without
a password gets a confirmation link (mailed when Email is set) whose use is audited and
proves the address; links an administrator asks for are mailed and refused when
pointless; the people list shows each status; without RequireEmailVerification a sign-up
logs in at once and is offered a link only when mail is configured. Written to kill the
mutants mutmut found surviving in app/recovery.py (docs/testing.md)."""
from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from api_support import API, assert_error, bearer, in_db, login, users_of
from conftest import STRONG_PASSWORD, outbox_idle, wait_for
from pages import flashes
from test_api_recovery import verify_app  # noqa: F401  (pytest fixture: mail, RequireEmailVerification, an administrator "first")

from keystead import accounts
from keystead.models import OneTimeLink

NEW_PASSWORD = "a-brand-new-passphrase-7"


def _sign_up(client, username, email):
    return client.post(f"{API}/auth/register",
                       json={"username": username, "email": email, "password": STRONG_PASSWORD})


def _token(url: str) -> str:
    return urlsplit(url).path.rsplit("/", 1)[1]


def _links(app) -> int:
    return in_db(app, lambda: OneTimeLink.select().count())


def _unverified(app, username, email):
    return in_db(app, lambda: accounts.create_user(username, email, STRONG_PASSWORD, email_verified=False))


# ---------------------------------------------------------------- a sign-up with a taken address

def test_a_sign_up_with_an_address_in_use_mails_its_owner_the_reset_page_and_makes_no_link(verify_app):
    app, box, client = verify_app, verify_app.mailbox, verify_app.test_client()
    assert _sign_up(client, "grace", "grace@example.com").status_code == 201
    assert wait_for(lambda: len(box.to("grace@example.com")) == 1)
    links = _links(app)

    r = _sign_up(client, "mallory", "grace@example.com")
    assert r.status_code == 201, r.get_data(as_text=True)
    assert r.get_json()["verification_email_sent"] is True
    assert _links(app) == links  # no link for the stand-in, none for the owner
    assert wait_for(lambda: len(box.to("grace@example.com")) == 2)
    notice = box.to("grace@example.com")[-1]
    assert notice["Subject"] == "Keystead: Someone tried to sign up with your address"
    text = box.text_of(notice)
    assert "Your username is grace." in text
    # The one link in the notice is the reset page of Server.PublicURL, and it opens.
    assert re.findall(r"https?://\S+", text) == ["http://keystead.test/reset-password", "http://keystead.test"]
    assert client.get("/reset-password").status_code == 200
    assert 'href="http://keystead.test/reset-password"' in box.html_of(notice)


# ---------------------------------------------------------------- verification marks one person

def test_following_a_verification_link_verifies_only_its_own_person(verify_app):
    app, box, client = verify_app, verify_app.mailbox, verify_app.test_client()
    for name in ("grace", "ada"):
        assert _sign_up(client, name, f"{name}@example.com").status_code == 201
    assert wait_for(lambda: len(box.to("ada@example.com")) == 1 and len(box.to("grace@example.com")) == 1)
    url = box.link_to("grace@example.com", "/verify-email/")
    assert client.post(f"{API}/auth/verify-email", json={"token": _token(url)}).status_code == 200

    login(client, "grace")
    assert_error(client.post(f"{API}/auth/login", json={"username": "ada", "password": STRONG_PASSWORD}),
                 403, "email_not_verified")


def test_a_reset_through_a_link_verifies_only_its_own_person(make_app, smtp):
    box, settings = smtp
    app = make_app(settings)
    _unverified(app, "grace", "grace@example.com")
    _unverified(app, "ada", "ada@example.com")
    client = app.test_client()
    assert client.post(f"{API}/auth/request-password-reset", json={"email": "grace@example.com"}).status_code == 202
    assert wait_for(lambda: box.to("grace@example.com"))
    url = box.link_to("grace@example.com", "/reset-password/")
    r = client.post(f"{API}/auth/reset-password", json={"token": _token(url), "new_password": NEW_PASSWORD})
    assert r.status_code == 200, r.get_data(as_text=True)
    me = lambda name, pw: client.get(f"{API}/users/me", headers=bearer(login(client, name, pw)["access_token"]))
    assert me("grace", NEW_PASSWORD).get_json()["email_verified"] is True
    assert me("ada", STRONG_PASSWORD).get_json()["email_verified"] is False


# ---------------------------------------------------------------- a reset ends API keys, audited

def test_a_reset_through_a_link_ends_the_api_keys_and_is_audited_as_password_reset(mail_app):
    app, box, client = mail_app, mail_app.mailbox, mail_app.test_client()
    users_of(app).create("root", role="administrator")
    users_of(app).create("grace")
    token = login(client, "grace")["access_token"]
    made = client.post(f"{API}/users/me/api-keys", json={"name": "laptop", "current_password": STRONG_PASSWORD},
                       headers=bearer(token))
    assert made.status_code == 201
    key = {"Authorization": f"Key {made.get_json()['key']}"}
    assert client.get(f"{API}/users/me", headers=key).status_code == 200
    assert outbox_idle(app)
    mails = len(box.to("grace@example.com"))  # the notice of the new key

    assert client.post(f"{API}/auth/request-password-reset", json={"email": "grace@example.com"}).status_code == 202
    assert wait_for(lambda: len(box.to("grace@example.com")) > mails)
    url = box.link_to("grace@example.com", "/reset-password/")
    assert client.post(f"{API}/auth/reset-password",
                       json={"token": _token(url), "new_password": NEW_PASSWORD}).status_code == 200

    assert_error(client.get(f"{API}/users/me", headers=key), 401)
    root = bearer(login(client, "root")["access_token"])
    events = client.get(f"{API}/audit?event=password_reset", headers=root).get_json()["results"]
    assert [(e["target"]["username"], e["outcome"]) for e in events] == [("grace", "success")]
    revoked = client.get(f"{API}/audit?event=api_key_revoke", headers=root).get_json()["results"]
    assert [e["details"].get("reason") for e in revoked] == ["password_reset"]


# ---------------------------------------------------------------- who a verification mail goes to

def test_a_verification_mail_goes_only_to_the_unverified_owner_of_the_address(make_app, smtp):
    """Everyone here but the asked-for address is unverified and unlocked: a look-up that
    matched anyone else would mail them."""
    box, settings = smtp
    app = make_app(settings)
    _unverified(app, "ada", "ada@example.com")
    _unverified(app, "grace", "grace@example.com")
    client = app.test_client()
    ask = lambda email: client.post(f"{API}/auth/resend-verification", json={"email": email})

    assert ask("nobody@example.com").status_code == 202
    assert outbox_idle(app) and box.messages == []

    assert ask("grace@example.com").status_code == 202
    assert outbox_idle(app)
    assert [str(m["To"]) for m in box.messages] == ["grace@example.com"]
    assert "/verify-email/" in box.link_to("grace@example.com", "/verify-email/")


def test_a_locked_person_gets_no_verification_mail(make_app, smtp):
    box, settings = smtp
    app = make_app(settings)
    ada = _unverified(app, "ada", "ada@example.com")
    in_db(app, lambda: accounts.set_locked(ada, True))
    client = app.test_client()
    assert client.post(f"{API}/auth/resend-verification", json={"email": "ada@example.com"}).status_code == 202
    assert outbox_idle(app) and box.messages == []


# ---------------------------------------------------------------- an administrator creates a person

FIELDS = [{"name": "badge", "label": "Badge number", "type": "text", "editable_by": "admin", "visible_to": "admin"}]


def _root(client):
    return bearer(login(client, "root")["access_token"])


def _audit(client, headers, **params) -> list[dict]:
    r = client.get(f"{API}/audit", query_string={"per_page": 200, **params}, headers=headers)
    assert r.status_code == 200
    return r.get_json()["results"]


def _csrf(html: str) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)


def _set_password_on_the_page(app, url, password=NEW_PASSWORD):
    """The person opens the link in a browser and sets a password there."""
    browser = app.test_client()
    path = urlsplit(url).path
    form = browser.get(path)
    assert form.status_code == 200
    done = browser.post(path, data={"csrf_token": _csrf(form.get_data(as_text=True)), "new_password": password,
                                    "new_password_confirm": password})
    assert done.status_code == 303, done.get_data(as_text=True)
    return browser


def test_the_service_makes_a_viewer_without_names_unless_told(app):
    from keystead import recovery
    with app.test_request_context(), app.extensions["keystead.db"].connection_context():
        user, url, sent = recovery.create_person("lin", "lin@example.com", STRONG_PASSWORD)
        assert (user.role, user.first_name, user.last_name) == ("viewer", "", "")
        assert (url, sent) == (None, False)


def test_a_person_created_without_a_password_gets_a_mailed_link_that_sets_it(make_app, smtp):
    box, settings = smtp
    app = make_app({**settings, "Profile.Fields": FIELDS})
    users_of(app).create("root", role="administrator")
    client = app.test_client()
    root = _root(client)
    r = client.post(f"{API}/users", headers=root, json={
        "username": "lin", "email": "lin@example.com", "first_name": "Lin", "last_name": "Wu",
        "role": "publisher", "fields": {"badge": "12"}})
    assert r.status_code == 201, r.get_data(as_text=True)
    body = r.get_json()
    assert (body["first_name"], body["last_name"], body["role"], body["fields"]) == ("Lin", "Wu", "publisher",
                                                                                      {"badge": "12"})
    assert body["email_verified"] is True  # the administrator vouches for the address
    stored = client.get(f"{API}/users/{body['id']}", headers=root).get_json()  # kept, not only answered
    assert stored["fields"] == {"badge": "12"} and stored["email_verified"] is True
    assert body["confirmation_sent"] is True
    url = body["confirmation_url"]
    assert url.startswith("http://keystead.test/confirm/")
    assert wait_for(lambda: box.to("lin@example.com"))
    mail = box.to("lin@example.com")[-1]
    assert mail["Subject"] == "Keystead: Set your password" and url in box.text_of(mail)
    created = _audit(client, root, event="user_create", person="lin")
    assert [(e["actor"]["username"], e["target"]["username"]) for e in created] == [("root", "lin")]

    _set_password_on_the_page(app, url)
    login(client, "lin", NEW_PASSWORD)
    confirmed = _audit(client, root, event="password_reset")
    assert [(e["target"]["username"], e["details"]) for e in confirmed] == [("lin", {"via": "confirmation"})]
    assert client.get(urlsplit(url).path).status_code != 200  # spent


def test_a_person_created_with_a_password_gets_no_link_and_no_mail(mail_app):
    app, box, client = mail_app, mail_app.mailbox, mail_app.test_client()
    users_of(app).create("root", role="administrator")
    r = client.post(f"{API}/users", headers=_root(client), json={
        "username": "lin", "email": "lin@example.com", "password": STRONG_PASSWORD})
    assert r.status_code == 201
    assert "confirmation_url" not in r.get_json() and "confirmation_sent" not in r.get_json()
    assert outbox_idle(app) and box.to("lin@example.com") == [] and _links(app) == 0
    login(client, "lin")


def test_without_mail_the_confirmation_link_is_made_and_said_unsent(app, client, admin):
    r = client.post(f"{API}/users", headers=_root(client), json={"username": "lin", "email": "lin@example.com"})
    assert r.status_code == 201
    assert r.get_json()["confirmation_sent"] is False
    assert r.get_json()["confirmation_url"].startswith("http://keystead.test/confirm/")


def test_a_person_created_into_groups_joins_them_as_the_administrators_doing(app, client, admin):
    from documents_support import make_group
    make_group(app, "Eng")
    root = _root(client)
    r = client.post(f"{API}/users", headers=root,
                    json={"username": "lin", "email": "lin@example.com", "groups": ["Eng"]})
    assert r.status_code == 201 and r.get_json()["groups"] == ["Eng"]
    joined = [e for e in _audit(client, root, event="group_change") if e["details"]["action"] == "add_member"]
    assert [(e["actor"]["username"], e["target"]["username"], e["details"]["group"]) for e in joined] == [
        ("root", "lin", "Eng")]


def test_following_a_confirmation_link_proves_the_address_it_went_to(mail_app):
    """A person without a password whose address is not verified (an administrator changed
    it, say): setting the first password through the mailed link verifies it."""
    app, box, client = mail_app, mail_app.mailbox, mail_app.test_client()
    users_of(app).create("root", role="administrator")
    ada = in_db(app, lambda: accounts.create_user("ada", "ada@example.com", None, email_verified=False))
    browser = app.test_client()
    browser.post("/login", data={"csrf_token": _csrf(browser.get("/login").get_data(as_text=True)),
                                 "username": "root", "password": STRONG_PASSWORD})
    page = f"/admin/people/{ada.id}"
    r = browser.post(f"{page}/confirmation", data={"csrf_token": _csrf(browser.get(page).get_data(as_text=True))})
    assert r.status_code == 303
    shown = flashes(browser.get(page).get_data(as_text=True))
    assert "A confirmation link has been mailed to ada@example.com." in shown
    assert wait_for(lambda: box.to("ada@example.com"))
    assert box.to("ada@example.com")[-1]["Subject"] == "Keystead: Set your password"
    _set_password_on_the_page(app, box.link_to("ada@example.com", "/confirm/"))
    root = _root(client)
    assert client.get(f"{API}/users/{ada.id}", headers=root).get_json()["email_verified"] is True


# ---------------------------------------------------------------- links an administrator asks for

def test_a_reset_link_an_administrator_asks_for_is_mailed_to_the_person(mail_app):
    app, box, client = mail_app, mail_app.mailbox, mail_app.test_client()
    users_of(app).create("root", role="administrator")
    ada = users_of(app).create("ada")[0]
    r = client.post(f"{API}/users/{ada.id}/reset-link", headers=_root(client))
    assert r.status_code == 200 and r.get_json()["sent"] is True
    assert wait_for(lambda: box.to("ada@example.com"))
    mail = box.to("ada@example.com")[-1]
    assert mail["Subject"] == "Keystead: Reset your password" and r.get_json()["reset_url"] in box.text_of(mail)


def test_a_verification_link_an_administrator_asks_for_is_mailed_and_refused_when_pointless(mail_app):
    app, box, client = mail_app, mail_app.mailbox, mail_app.test_client()
    users_of(app).create("root", role="administrator")
    ada = _unverified(app, "ada", "ada@example.com")
    nomail = in_db(app, lambda: accounts.create_user("nomail", None, STRONG_PASSWORD))
    root = _root(client)
    r = client.post(f"{API}/users/{ada.id}/verification-link", headers=root)
    assert r.status_code == 200 and r.get_json()["sent"] is True
    assert wait_for(lambda: box.to("ada@example.com"))
    mail = box.to("ada@example.com")[-1]
    assert mail["Subject"] == "Keystead: Verify your email address"
    assert r.get_json()["verification_url"] in box.text_of(mail)

    error = assert_error(client.post(f"{API}/users/{nomail.id}/verification-link", headers=root), 409, "no_email")
    assert error["message"] == "nomail has no email address to verify."
    assert client.post(f"{API}/auth/verify-email", json={"token": _token(r.get_json()["verification_url"])}
                       ).status_code == 200
    error = assert_error(client.post(f"{API}/users/{ada.id}/verification-link", headers=root), 409,
                         "already_verified")
    assert error["message"] == "The address of ada is already verified."


# ---------------------------------------------------------------- status and verification at sign-up

def _people_row(html: str, username: str) -> list[str]:
    body = re.search(r'<table id="people">.*?<tbody>(.*?)</tbody>', html, re.S).group(1)
    for tr in re.findall(r"<tr>(.*?)</tr>", body, re.S):
        cells = [" ".join(re.sub(r"<[^>]+>", " ", td).split()) for td in re.findall(r"<td[^>]*>(.*?)</td>", tr, re.S)]
        if cells and cells[0] == username:
            return cells
    raise AssertionError(f"{username} is not in the list")


@pytest.mark.parametrize("required", [False, True])
def test_the_people_list_shows_each_persons_status(make_app, required):
    app = make_app({"Password.RequireEmailVerification": required})
    users_of(app).create("root", role="administrator")
    in_db(app, lambda: accounts.create_user("nomail", None, STRONG_PASSWORD))
    _unverified(app, "unver", "unver@example.com")
    locky = _unverified(app, "locky", "locky@example.com")
    in_db(app, lambda: accounts.set_locked(locky, True))
    browser = app.test_client()
    browser.post("/login", data={"csrf_token": _csrf(browser.get("/login").get_data(as_text=True)),
                                 "username": "root", "password": STRONG_PASSWORD})
    html = browser.get("/admin/people").get_data(as_text=True)
    status = {name: _people_row(html, name)[4] for name in ("root", "nomail", "unver", "locky")}
    assert status == {"root": "active", "nomail": "active", "locky": "locked",
                      "unver": "email not verified" if required else "active, email not verified"}


def test_without_required_verification_a_sign_up_logs_in_at_once_and_is_offered_a_link(make_app, smtp):
    box, settings = smtp
    app = make_app(settings)
    users_of(app).create("root", role="administrator")
    client = app.test_client()
    r = _sign_up(client, "grace", "grace@example.com")
    assert r.status_code == 201 and "verification_email_sent" not in r.get_json()
    assert r.get_json()["email_verified"] is False
    login(client, "grace")
    assert wait_for(lambda: box.to("grace@example.com"))
    url = box.link_to("grace@example.com", "/verify-email/")
    assert client.post(f"{API}/auth/verify-email", json={"token": _token(url)}).status_code == 200


def test_without_mail_a_sign_up_is_offered_no_link(app, admin):
    client = app.test_client()
    assert _sign_up(client, "grace", "grace@example.com").status_code == 201
    assert outbox_idle(app) and _links(app) == 0


# ---------------------------------------------------------------- who a reset mail goes to

def test_a_reset_mail_goes_only_to_the_owner_of_the_address_whose_password_is_kept_here(make_app, smtp):
    box, settings = smtp
    app = make_app(settings)
    users_of(app).create("grace")
    in_db(app, lambda: accounts.create_user("lars", "lars@example.com", None, provider="ldap"))
    client = app.test_client()
    ask = lambda email: client.post(f"{API}/auth/request-password-reset", json={"email": email})

    assert ask("nobody@example.com").status_code == 202
    assert ask("lars@example.com").status_code == 202  # signs in elsewhere: nothing to reset here
    assert outbox_idle(app) and box.messages == []
    assert ask("  GRACE@example.com ").status_code == 202
    assert outbox_idle(app)
    assert [str(m["To"]) for m in box.messages] == ["grace@example.com"]
    assert box.to("grace@example.com")[0]["Subject"] == "Keystead: Reset your password"


@pytest.mark.parametrize("ask", ["request-password-reset", "resend-verification"])
def test_an_address_is_looked_up_only_when_what_was_sent_is_at_most_320_characters(make_app, smtp, ask):
    """The length bound is checked on the text as sent, spaces around the address included,
    before any look-up: 320 characters are looked up (the spaces then dropped), 321 never."""
    box, settings = smtp
    app = make_app(settings)
    _unverified(app, "grace", "grace@example.com")
    client = app.test_client()
    for length in (321, 2000):
        padded = "grace@example.com".rjust(length)
        assert client.post(f"{API}/auth/{ask}", json={"email": padded}).status_code == 202
    assert outbox_idle(app) and box.messages == []
    assert client.post(f"{API}/auth/{ask}", json={"email": "grace@example.com".rjust(320)}).status_code == 202
    assert outbox_idle(app)
    assert [str(m["To"]) for m in box.messages] == ["grace@example.com"]
