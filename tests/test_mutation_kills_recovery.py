"""Issue 18: the flows of app/recovery.py do what people see them do. A sign-up with an
address in use mails its owner a notice pointing at the reset page, and makes no link; a
verification link verifies only its own person; a reset through a link ends the person's
API keys and is audited as `password_reset`; a verification mail asked for goes only to
the unverified, unlocked owner of the address. Written to kill the mutants mutmut found
surviving in app/recovery.py (docs/testing.md)."""
from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from api_support import API, assert_error, bearer, in_db, login, users_of
from conftest import STRONG_PASSWORD, outbox_idle, wait_for

from keystead import accounts
from keystead.models import OneTimeLink

NEW_PASSWORD = "a-brand-new-passphrase-7"


@pytest.fixture
def verify_app(make_app, smtp):
    """Mail to the loopback server, RequireEmailVerification on, an administrator "first"."""
    box, settings = smtp
    app = make_app({**settings, "Password.RequireEmailVerification": True})
    app.mailbox = box
    users_of(app).create("first", role="administrator")
    return app


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
