"""Email verification and password reset through the API, with a real SMTP server on
loopback: the tests follow the links in the mails they receive (SPEC 4 and 6)."""
from __future__ import annotations

import time
from urllib.parse import urlsplit

import pytest

from api_support import API, assert_error, bearer, in_db, login, me_status, refresh, users_of
from keystead.models import OneTimeLink, User
from conftest import STRONG_PASSWORD, outbox_idle, wait_for

NEW_PASSWORD = "a-brand-new-passphrase-7"


def mailed_link(box, address: str, path_part: str, count: int = 1) -> str:
    assert wait_for(lambda: len(box.to(address)) >= count), f"no mail to {address}"
    return box.link_to(address, path_part)


def token_of(url: str) -> str:
    return urlsplit(url).path.rsplit("/", 1)[1]


@pytest.fixture
def verify_app(make_app, smtp):
    box, settings = smtp
    app = make_app({**settings, "Password.RequireEmailVerification": True})
    app.mailbox = box
    users_of(app).create("first", role="administrator")
    return app


def sign_up(client, username="grace", email="grace@example.com"):
    return client.post(f"{API}/auth/register",
                       json={"username": username, "email": email, "password": STRONG_PASSWORD})


# ---------------------------------------------------------------- verification

def test_sign_up_mails_a_verification_link_that_unlocks_login(verify_app):
    client, box = verify_app.test_client(), verify_app.mailbox
    r = sign_up(client)
    assert r.status_code == 201
    assert r.get_json()["email_verified"] is False and r.get_json()["verification_email_sent"] is True
    assert_error(client.post(f"{API}/auth/login", json={"username": "grace", "password": STRONG_PASSWORD}),
                 403, "email_not_verified")

    url = mailed_link(box, "grace@example.com", "/verify-email/")
    assert url.startswith("http://keystead.test/verify-email/")  # built from Server.PublicURL
    msg = box.to("grace@example.com")[-1]
    assert msg["From"] == "keystead@example.com" and "Verify" in msg["Subject"]
    assert url in box.text_of(msg) and f'href="{url}"' in box.html_of(msg)

    r = client.post(f"{API}/auth/verify-email", json={"token": token_of(url)})
    assert r.status_code == 200
    assert r.get_json() == {"status": "verified", "username": "grace", "email": "grace@example.com"}
    pair = login(client, "grace")
    assert client.get(f"{API}/users/me", headers=bearer(pair["access_token"])).get_json()["email_verified"] is True
    # Single use.
    e = assert_error(client.post(f"{API}/auth/verify-email", json={"token": token_of(url)}), 400, "invalid_link")
    assert "token" in e["fields"]
    path = urlsplit(url).path
    # The browser page of the same link (app/web) says so too.
    assert client.get(path).status_code == 400


def test_bad_verification_tokens_are_400(verify_app):
    client = verify_app.test_client()
    for token in ("nonsense", "x" * 10240, "a.b"):
        assert_error(client.post(f"{API}/auth/verify-email", json={"token": token}), 400, "invalid_link")
    assert_error(client.post(f"{API}/auth/verify-email", json={"token": 5}), 422)


def test_an_expired_verification_link_is_refused(verify_app):
    client, box = verify_app.test_client(), verify_app.mailbox
    sign_up(client)
    url = mailed_link(box, "grace@example.com", "/verify-email/")
    row = in_db(verify_app, lambda: OneTimeLink.get(OneTimeLink.purpose == "verify"))
    assert abs(row.expires_at - (time.time() + 24 * 3600)) < 60  # 24 hours
    in_db(verify_app, lambda: OneTimeLink.update(expires_at=int(time.time()) - 1).execute())
    assert_error(client.post(f"{API}/auth/verify-email", json={"token": token_of(url)}), 400, "invalid_link")


def test_resend_verification_answers_the_same_for_any_address(verify_app):
    client, box = verify_app.test_client(), verify_app.mailbox
    sign_up(client)
    first_url = mailed_link(box, "grace@example.com", "/verify-email/")
    known = client.post(f"{API}/auth/resend-verification", json={"email": "Grace@Example.com"})
    unknown = client.post(f"{API}/auth/resend-verification", json={"email": "nobody@example.com"})
    verified = client.post(f"{API}/auth/resend-verification", json={"email": "first@example.com"})
    assert known.status_code == unknown.status_code == verified.status_code == 202
    assert known.get_data() == unknown.get_data() == verified.get_data()
    new_url = mailed_link(box, "grace@example.com", "/verify-email/", count=2)
    assert new_url != first_url
    assert outbox_idle(verify_app)
    assert box.to("nobody@example.com") == [] and box.to("first@example.com") == []
    # The new link replaces the old one.
    assert_error(client.post(f"{API}/auth/verify-email", json={"token": token_of(first_url)}), 400)
    assert client.post(f"{API}/auth/verify-email", json={"token": token_of(new_url)}).status_code == 200
    assert login(client, "grace")
    assert_error(client.post(f"{API}/auth/resend-verification", json={}), 422)


def test_changing_the_email_asks_for_verification_again(verify_app):
    client, box = verify_app.test_client(), verify_app.mailbox
    users_of(verify_app).create("ada", email="ada@example.com")
    token = login(client, "ada")["access_token"]
    r = client.patch(f"{API}/users/me", headers=bearer(token),
                     json={"email": "ada2@example.com", "current_password": STRONG_PASSWORD})
    assert r.status_code == 200
    assert r.get_json()["email_verified"] is False and r.get_json()["verification_email_sent"] is True
    url = mailed_link(box, "ada2@example.com", "/verify-email/")
    assert client.post(f"{API}/auth/verify-email", json={"token": token_of(url)}).status_code == 200
    assert client.get(f"{API}/users/me", headers=bearer(token)).get_json()["email_verified"] is True


# ---------------------------------------------------------------- password reset

def test_reset_request_answers_the_same_whether_or_not_the_email_exists(mail_app):
    users_of(mail_app).create("ada", email="ada@example.com")
    client, box = mail_app.test_client(), mail_app.mailbox
    known = client.post(f"{API}/auth/request-password-reset", json={"email": "ada@example.com"})
    unknown = client.post(f"{API}/auth/request-password-reset", json={"email": "eve@example.com"})
    assert known.status_code == unknown.status_code == 202
    assert known.get_data() == unknown.get_data()
    # The same headers too (but the date and this client's own rate-limit counters).
    def same(h):
        return {k: v for k, v in h if k != "Date" and not k.startswith("X-RateLimit")}
    assert same(known.headers) == same(unknown.headers)
    mailed_link(box, "ada@example.com", "/reset-password/")
    assert outbox_idle(mail_app)
    assert box.to("eve@example.com") == []
    assert len(box.messages) == 1


def test_reset_flow_from_the_mailed_link(mail_app):
    users_of(mail_app).create("ada", email="ada@example.com")
    client, box = mail_app.test_client(), mail_app.mailbox
    sessions = [login(client, "ada"), login(client, "ada")]
    assert client.post(f"{API}/auth/request-password-reset", json={"email": "ADA@example.com"}).status_code == 202
    url = mailed_link(box, "ada@example.com", "/reset-password/")
    assert url.startswith("http://keystead.test/reset-password/")
    msg = box.to("ada@example.com")[-1]
    assert "Reset" in msg["Subject"] and f'href="{url}"' in box.html_of(msg)
    token = token_of(url)
    row = in_db(mail_app, lambda: OneTimeLink.get(OneTimeLink.purpose == "reset"))
    assert abs(row.expires_at - (time.time() + 3600)) < 60  # 1 hour

    path = urlsplit(url).path
    # The browser page shows the form without spending the link.
    assert client.get(path).status_code == 200

    # A refused password leaves the link unspent.
    e = assert_error(client.post(f"{API}/auth/reset-password", json={"token": token, "new_password": "short"}), 422)
    assert set(e["fields"]) == {"new_password"}
    r = client.post(f"{API}/auth/reset-password", json={"token": token, "new_password": NEW_PASSWORD})
    assert r.status_code == 200 and r.get_json()["status"] == "password_reset"
    # Every token of the person ended.
    for pair in sessions:
        assert me_status(client, pair["access_token"]) == 401
        assert_error(refresh(client, pair["refresh_token"]), 401)
    assert_error(client.post(f"{API}/auth/login", json={"username": "ada", "password": STRONG_PASSWORD}), 401)
    assert login(client, "ada", NEW_PASSWORD)
    # Single use.
    assert_error(client.post(f"{API}/auth/reset-password", json={"token": token, "new_password": "another-fine-pass-9"}),
                 400, "invalid_link")


def test_an_expired_reset_link_is_refused(mail_app):
    users_of(mail_app).create("ada", email="ada@example.com")
    client, box = mail_app.test_client(), mail_app.mailbox
    client.post(f"{API}/auth/request-password-reset", json={"email": "ada@example.com"})
    token = token_of(mailed_link(box, "ada@example.com", "/reset-password/"))
    in_db(mail_app, lambda: OneTimeLink.update(expires_at=int(time.time()) - 1).execute())
    assert_error(client.post(f"{API}/auth/reset-password", json={"token": token, "new_password": NEW_PASSWORD}),
                 400, "invalid_link")
    assert login(client, "ada")


def test_a_password_change_spends_an_outstanding_reset_link(mail_app):
    users_of(mail_app).create("ada", email="ada@example.com")
    client, box = mail_app.test_client(), mail_app.mailbox
    client.post(f"{API}/auth/request-password-reset", json={"email": "ada@example.com"})
    token = token_of(mailed_link(box, "ada@example.com", "/reset-password/"))
    access = login(client, "ada")["access_token"]
    assert client.post(f"{API}/users/me/password", headers=bearer(access),
                       json={"current_password": STRONG_PASSWORD, "new_password": NEW_PASSWORD}).status_code == 204
    assert_error(client.post(f"{API}/auth/reset-password", json={"token": token, "new_password": "another-fine-pass-9"}),
                 400, "invalid_link")


def test_no_reset_mail_for_a_locked_account(mail_app):
    from keystead.accounts import set_locked
    users_of(mail_app).create("boss", role="administrator")
    ada = users_of(mail_app).create("ada", email="ada@example.com")[0]
    in_db(mail_app, lambda: set_locked(ada, True))
    client, box = mail_app.test_client(), mail_app.mailbox
    assert client.post(f"{API}/auth/request-password-reset", json={"email": "ada@example.com"}).status_code == 202
    assert outbox_idle(mail_app)
    assert box.to("ada@example.com") == []


def test_a_reset_proves_the_address(verify_app):
    client, box = verify_app.test_client(), verify_app.mailbox
    sign_up(client)
    client.post(f"{API}/auth/request-password-reset", json={"email": "grace@example.com"})
    token = token_of(mailed_link(box, "grace@example.com", "/reset-password/", count=2))
    assert client.post(f"{API}/auth/reset-password", json={"token": token, "new_password": NEW_PASSWORD}).status_code == 200
    assert login(client, "grace", NEW_PASSWORD)


# ---------------------------------------------------------------- without mail, and when sending fails

def test_without_email_host_nothing_is_sent_and_links_stay_for_administrators(make_app, smtp):
    box, _ = smtp  # a server that would receive, but the app is not told about it
    app = make_app({"Password.RequireEmailVerification": True})
    users_of(app).create("first", role="administrator")
    users_of(app).create("ada", email="ada@example.com")
    client = app.test_client()
    r = sign_up(client)
    assert r.status_code == 201 and r.get_json()["verification_email_sent"] is False
    assert client.post(f"{API}/auth/request-password-reset", json={"email": "ada@example.com"}).status_code == 202
    assert outbox_idle(app)
    assert box.messages == []
    purposes = in_db(app, lambda: sorted(r.purpose for r in OneTimeLink.select()))
    assert purposes == ["reset", "verify"]


def test_a_sending_failure_is_logged_and_the_account_is_kept(make_app, caplog):
    from conftest import _free_port
    closed = _free_port()  # nothing listens there
    app = make_app({"Email.Host": "127.0.0.1", "Email.Port": closed, "Password.RequireEmailVerification": True})
    users_of(app).create("first", role="administrator")
    r = sign_up(app.test_client())
    assert r.status_code == 201
    assert r.get_json()["verification_email_sent"] is False
    assert in_db(app, lambda: User.select().where(User.username_key == "grace").count()) == 1
    assert any("could not send mail" in rec.getMessage() and "grace@example.com" in rec.getMessage()
               for rec in caplog.records)
    # Nothing secret in the log: not the link.
    assert not any("/verify-email/" in rec.getMessage() for rec in caplog.records)
