"""Issue 12 items 3, 4 and 5: trust in email addresses.

Changing one's address needs the current password (API) or web sudo (browser, whatever
WebSudoMode says); a new address is unverified until a link sent to it is followed;
links die with the address they were sent to; and the person is told of sensitive
changes by mail (the old address for an address change), or the audit log records the
notice when no mail can go out."""
from __future__ import annotations

import json
from urllib.parse import urlsplit

import pytest

from api_support import API, assert_error, bearer, in_db, login, users_of
from keystead.audit.models import AuditEvent
from keystead.models import User
from conftest import STRONG_PASSWORD, outbox_idle, wait_for
from pages import flashes, redirect_to, submit
from totp_support import code_for, enable_for

NEW_PASSWORD = "a-brand-new-passphrase-7"


def token_of(url: str) -> str:
    return urlsplit(url).path.rsplit("/", 1)[1]


def fetch(app, username: str) -> User:
    return in_db(app, lambda: User.get(User.username_key == username))


def patch_me(client, token: str, **body):
    return client.patch(f"{API}/users/me", headers=bearer(token), json=body)


def mails_to(box, address: str, count: int = 1) -> list:
    assert wait_for(lambda: len(box.to(address)) >= count), f"fewer than {count} mails to {address}"
    return box.to(address)


def subjects(box, address: str) -> list[str]:
    return [str(m["Subject"]) for m in box.to(address)]


def audit(app, event: str) -> list[dict]:
    rows = in_db(app, lambda: list(AuditEvent.select().where(AuditEvent.event == event).order_by(AuditEvent.id)))
    return [{"target": r.target_name, "outcome": r.outcome, **json.loads(r.details)} for r in rows]


# ---------------------------------------------------------------- item 3: re-authentication

def test_item3_api_email_change_without_current_password_is_refused(app, client, users):
    """Issue 12 item 3: a token alone cannot redirect the account's mail."""
    users.create("ada", email="ada@example.com")
    token = login(client, "ada")["access_token"]
    e = assert_error(patch_me(client, token, email="mallory@example.com"), 422)
    assert set(e["fields"]) == {"current_password"}
    assert fetch(app, "ada").email == "ada@example.com"
    # Names need no password; an unchanged address neither.
    assert patch_me(client, token, first_name="Ada", email="ADA@example.com").status_code == 200


def test_item3_api_email_change_with_a_wrong_password_is_refused_and_counts_toward_the_lockout(make_app):
    """Issue 12 item 3: wrong current passwords are guesses like logins."""
    app = make_app({"Password.LockoutThreshold": 3})
    users_of(app).create("ada", email="ada@example.com")
    client = app.test_client()
    token = login(client, "ada")["access_token"]
    for _ in range(2):
        e = assert_error(patch_me(client, token, email="mallory@example.com", current_password="wrong-guess"), 422)
        assert set(e["fields"]) == {"current_password"}
    assert_error(patch_me(client, token, email="mallory@example.com", current_password="wrong-guess"), 422)
    # Locked out now: even the right password is refused, and logins are too.
    assert_error(patch_me(client, token, email="mallory@example.com", current_password=STRONG_PASSWORD), 423)
    assert client.post(f"{API}/auth/login", json={"username": "ada", "password": STRONG_PASSWORD}).status_code == 423
    assert fetch(app, "ada").email == "ada@example.com"


def test_item3_api_email_change_with_the_right_password_goes_through(app, client, users):
    """Issue 12 item 3: the right current password changes the address."""
    users.create("ada", email="ada@example.com")
    token = login(client, "ada")["access_token"]
    r = patch_me(client, token, email="ada2@example.com", current_password=STRONG_PASSWORD)
    assert r.status_code == 200 and r.get_json()["email"] == "ada2@example.com"


def test_item3_an_account_without_a_password_here_gets_403_password_required(app, client):
    """Issue 12 item 3: an OIDC account has no current password to give; it changes its
    address in the browser after a fresh login at its provider."""
    from keystead.accounts import create_user
    from keystead.tokens import issue_token_pair
    token = in_db(app, lambda: issue_token_pair(create_user("grace", "grace@example.com", None, provider="oidc",
                                                            email_verified=True))["access_token"])
    e = assert_error(patch_me(client, token, email="mallory@example.com", current_password="anything"),
                     403, "password_required")
    assert "browser" in e["message"]
    assert fetch(app, "grace").email == "grace@example.com"


def test_item3_a_directory_account_gives_its_directory_password(make_app):
    """Issue 12 item 3: `current_password` is checked by the account's own provider."""
    from plugins import directory_provider
    app = make_app({"Authentication.Provider": ["password", "directory"]}, plugins=[directory_provider])
    client = app.test_client()
    token = login(client, "dora", "dora-directory-pass-58")["access_token"]
    assert fetch(app, "dora").provider == "directory"
    assert_error(patch_me(client, token, email="dora2@example.com", current_password=STRONG_PASSWORD), 422)
    r = patch_me(client, token, email="dora2@example.com", current_password="dora-directory-pass-58")
    assert r.status_code == 200 and r.get_json()["email"] == "dora2@example.com"


def test_item3_an_administrator_changing_their_own_address_by_id_needs_their_password(client, admin, admin_h):
    """Issue 12 item 3: PATCH /users/{id} on oneself is no way around /users/me's rule."""
    e = assert_error(client.patch(f"{API}/users/{admin.id}", headers=admin_h,
                                  json={"email": "mallory@example.com"}), 422)
    assert set(e["fields"]) == {"current_password"}
    r = client.patch(f"{API}/users/{admin.id}", headers=admin_h,
                     json={"email": "root2@example.com", "current_password": STRONG_PASSWORD})
    assert r.status_code == 200 and r.get_json()["email"] == "root2@example.com"


def test_item3_browser_email_change_asks_for_sudo_even_with_web_sudo_mode_off(app, client, users, auth):
    """Issue 12 item 3: WebSudoMode=false (the tests' default) never skips it for an address change."""
    assert app.extensions["keystead.settings"]["Password.WebSudoMode"] is False
    users.create("ada", email="ada@example.com")
    auth.login("ada")
    r = submit(client, "/profile", {"first_name": "", "last_name": "", "email": "mallory@example.com"})
    assert r.status_code == 302 and redirect_to(r) == ("/sudo", {"next": "/profile"})
    assert fetch(app, "ada").email == "ada@example.com"
    # Names alone go through without it.
    assert submit(client, "/profile", {"first_name": "Ada", "email": "ada@example.com"}).status_code == 303
    # After the password, the change goes through.
    assert submit(client, "/sudo?next=/profile", {"password": STRONG_PASSWORD}).status_code == 303
    assert submit(client, "/profile", {"first_name": "Ada", "email": "ada2@example.com"}).status_code == 303
    assert fetch(app, "ada").email == "ada2@example.com"


def test_item3_browser_asks_for_sudo_when_the_account_had_no_address(app, client, auth):
    """Issue 12 item 3: like the administrator `keystead init` makes, without an address."""
    from keystead.accounts import create_user
    in_db(app, lambda: create_user("root", None, STRONG_PASSWORD, role="administrator", email_verified=True))
    auth.login("root")
    r = submit(client, "/profile", {"first_name": "", "last_name": "", "email": "mallory@example.com"})
    assert r.status_code == 302 and redirect_to(r) == ("/sudo", {"next": "/profile"})
    assert "Enter your password to change your email address" in " ".join(
        flashes(client.get("/sudo?next=/profile").get_data(as_text=True)))
    assert fetch(app, "root").email is None


# ---------------------------------------------------------------- item 4: verification

def test_item4_a_reset_link_spent_after_switching_address_does_not_verify_the_new_one(mail_app):
    """Issue 12 item 4: a reset link asked for one's own address, spent after switching to
    someone else's address, proves nothing about that address (it no longer works)."""
    client, box = mail_app.test_client(), mail_app.mailbox
    users_of(mail_app).create("mallory", email="mallory@example.com")
    token = login(client, "mallory")["access_token"]
    assert client.post(f"{API}/auth/request-password-reset", json={"email": "mallory@example.com"}).status_code == 202
    mails_to(box, "mallory@example.com")
    link = box.link_to("mallory@example.com", "/reset-password/")
    r = patch_me(client, token, email="victim@example.com", current_password=STRONG_PASSWORD)
    assert r.status_code == 200 and r.get_json()["email_verified"] is False
    spend = {"token": token_of(link), "new_password": NEW_PASSWORD}
    e = assert_error(client.post(f"{API}/auth/reset-password", json=spend), 400, "invalid_link")
    assert "token" in e["fields"]
    assert fetch(mail_app, "mallory").email_verified is False


def test_item4_with_verification_off_a_self_service_change_is_still_unverified(app, client, users):
    """Issue 12 item 4: RequireEmailVerification off (the default) does not make a new
    address verified; following the link mailed to it does."""
    assert app.extensions["keystead.settings"]["Password.RequireEmailVerification"] is False
    users.create("ada", email="ada@example.com")
    token = login(client, "ada")["access_token"]
    r = patch_me(client, token, email="ada2@example.com", current_password=STRONG_PASSWORD)
    assert r.status_code == 200 and r.get_json()["email_verified"] is False
    assert client.get(f"{API}/users/me", headers=bearer(token)).get_json()["email_verified"] is False


def test_item4_a_sign_up_without_required_verification_is_usable_but_unverified(make_app, smtp):
    """Issue 12 item 4: with RequireEmailVerification off, a sign-up logs in at once, but its
    address counts as verified only once the link mailed to it is followed (anyone can sign
    up with an address that is not theirs)."""
    box, settings = smtp
    app = make_app(settings)
    users_of(app).create("root", role="administrator")  # not the first account
    client = app.test_client()
    r = client.post(f"{API}/auth/register", json={"username": "mallory", "email": "ada@example.com",
                                                 "password": STRONG_PASSWORD})
    assert r.status_code == 201 and r.get_json()["email_verified"] is False
    token = login(client, "mallory")["access_token"]  # usable at once
    assert client.get(f"{API}/users/me", headers=bearer(token)).get_json()["email_verified"] is False
    mails_to(box, "ada@example.com")  # mailed after the answer
    link = box.link_to("ada@example.com", "/verify-email/")
    assert client.post(f"{API}/auth/verify-email", json={"token": token_of(link)}).status_code == 200
    assert client.get(f"{API}/users/me", headers=bearer(token)).get_json()["email_verified"] is True


def test_item4_the_new_address_is_verified_by_its_link_and_never_blocks_login(make_app, smtp):
    """Issue 12 item 4: the link mailed to the new address verifies it; until then the
    person still logs in, even with RequireEmailVerification on (only a first address does)."""
    box, settings = smtp
    app = make_app({**settings, "Password.RequireEmailVerification": True})
    users_of(app).create("ada", email="ada@example.com")
    client = app.test_client()
    token = login(client, "ada")["access_token"]
    r = patch_me(client, token, email="ada2@example.com", current_password=STRONG_PASSWORD)
    assert r.get_json()["verification_email_sent"] is True
    assert login(client, "ada")  # an unverified later address never blocks a login
    link = box.link_to("ada2@example.com", "/verify-email/")
    assert client.post(f"{API}/auth/verify-email", json={"token": token_of(link)}).status_code == 200
    assert client.get(f"{API}/users/me", headers=bearer(token)).get_json()["email_verified"] is True


def test_item4_links_sent_to_the_old_address_die_when_it_changes(mail_app):
    """Issue 12 item 4: every outstanding reset and verification link ends with the address
    it was sent to, and does not come back when the address does."""
    client, box = mail_app.test_client(), mail_app.mailbox
    users_of(mail_app).create("ada", email="ada@example.com")
    token = login(client, "ada")["access_token"]
    client.post(f"{API}/auth/request-password-reset", json={"email": "ada@example.com"})
    mails_to(box, "ada@example.com")
    reset = box.link_to("ada@example.com", "/reset-password/")
    assert patch_me(client, token, email="ada2@example.com", current_password=STRONG_PASSWORD).status_code == 200
    verify = box.link_to("ada2@example.com", "/verify-email/")
    assert patch_me(client, token, email="ada@example.com", current_password=STRONG_PASSWORD).status_code == 200
    spend = {"token": token_of(reset), "new_password": NEW_PASSWORD}
    assert_error(client.post(f"{API}/auth/reset-password", json=spend), 400, "invalid_link")
    assert_error(client.post(f"{API}/auth/verify-email", json={"token": token_of(verify)}), 400, "invalid_link")
    assert client.get(urlsplit(reset).path).status_code == 400  # the browser page too
    assert fetch(mail_app, "ada").email_verified is False


def test_item4_an_administrator_change_is_unverified_unless_they_vouch_for_it(client, users, admin_h):
    """Issue 12 item 4: PATCH /users/{id} needs no current password (an administrator's
    action), and the new address is unverified unless `email_verified: true` is sent."""
    ada = users.create("ada", email="ada@example.com")[0]
    r = client.patch(f"{API}/users/{ada.id}", headers=admin_h, json={"email": "ada2@example.com"})
    assert r.status_code == 200 and r.get_json()["email_verified"] is False
    r = client.patch(f"{API}/users/{ada.id}", headers=admin_h,
                     json={"email": "ada3@example.com", "email_verified": True})
    assert r.status_code == 200 and r.get_json()["email_verified"] is True
    e = assert_error(client.patch(f"{API}/users/{ada.id}", headers=admin_h, json={"email_verified": False}), 422)
    assert set(e["fields"]) == {"email_verified"}


# ---------------------------------------------------------------- item 5: notices

def test_item5_an_address_change_is_told_to_the_old_address(mail_app):
    """Issue 12 item 5: the old address hears of the change (the new one gets only its link)."""
    client, box = mail_app.test_client(), mail_app.mailbox
    users_of(mail_app).create("ada", email="ada@example.com")
    token = login(client, "ada")["access_token"]
    assert patch_me(client, token, email="ada2@example.com", current_password=STRONG_PASSWORD).status_code == 200
    notice = mails_to(box, "ada@example.com")[-1]
    assert "email address was changed" in str(notice["Subject"])
    text = box.text_of(notice)
    assert "ada2@example.com" in text and "http://keystead.test/reset-password" in text
    assert "ada2@example.com" in box.html_of(notice)
    assert outbox_idle(mail_app)
    assert subjects(box, "ada2@example.com") == ["Keystead: Verify your email address"]


def test_item5_password_change_and_reset_are_told(mail_app):
    """Issue 12 item 5: a password change and a password reset each mail the person."""
    client, box = mail_app.test_client(), mail_app.mailbox
    users_of(mail_app).create("ada", email="ada@example.com")
    token = login(client, "ada")["access_token"]
    r = client.post(f"{API}/users/me/password", headers=bearer(token),
                    json={"current_password": STRONG_PASSWORD, "new_password": NEW_PASSWORD})
    assert r.status_code == 204
    mails_to(box, "ada@example.com")
    assert subjects(box, "ada@example.com") == ["Keystead: Your password was changed"]
    client.post(f"{API}/auth/request-password-reset", json={"email": "ada@example.com"})
    mails_to(box, "ada@example.com", 2)
    link = box.link_to("ada@example.com", "/reset-password/")
    r = client.post(f"{API}/auth/reset-password",
                    json={"token": token_of(link), "new_password": "yet-another-passphrase-3"})
    assert r.status_code == 200
    mails_to(box, "ada@example.com", 3)
    assert subjects(box, "ada@example.com")[-1] == "Keystead: Your password was reset"


def test_item5_two_factor_off_and_a_new_api_key_are_told(mail_app):
    """Issue 12 item 5: turning two-factor authentication off and creating an API key mail the person."""
    client, box = mail_app.test_client(), mail_app.mailbox
    users_of(mail_app).create("ada", email="ada@example.com")
    secret, recovery_codes = enable_for(mail_app, "ada")
    token = client.post(f"{API}/auth/login", json={"username": "ada", "password": STRONG_PASSWORD,
                                                    "otp": recovery_codes[0]}).get_json()["access_token"]
    r = client.post(f"{API}/users/me/api-keys", headers=bearer(token),
                    json={"name": "backup script", "current_password": STRONG_PASSWORD})
    assert r.status_code == 201
    mails_to(box, "ada@example.com")
    key_notice = box.to("ada@example.com")[-1]
    assert "API key" in str(key_notice["Subject"]) and "backup script" in box.text_of(key_notice)
    r = client.delete(f"{API}/users/me/totp", headers=bearer(token),
                      json={"password": STRONG_PASSWORD, "code": code_for(secret, 1)})
    assert r.status_code == 204
    mails_to(box, "ada@example.com", 2)
    assert subjects(box, "ada@example.com")[-1] == "Keystead: Two-factor authentication was turned off"


def test_item5_a_login_from_a_new_client_address_is_told_but_not_the_first(mail_app):
    """Issue 12 item 5: the first login tells nothing, a known address neither; a new one
    does. Only a keyed digest of the address is stored."""
    client, box = mail_app.test_client(), mail_app.mailbox
    users_of(mail_app).create("ada", email="ada@example.com")
    login(client, "ada")
    login(client, "ada")
    assert outbox_idle(mail_app) and box.to("ada@example.com") == []
    elsewhere = mail_app.test_client()
    elsewhere.environ_base["REMOTE_ADDR"] = "203.0.113.9"
    login(elsewhere, "ada")
    notice = mails_to(box, "ada@example.com")[-1]
    assert "New sign-in" in str(notice["Subject"]) and "203.0.113.9" in box.text_of(notice)
    from keystead.notices import KnownClient
    stored = in_db(mail_app, lambda: [row.digest for row in KnownClient.select()])
    assert len(stored) == 2 and not any("203.0.113" in d or "127.0.0.1" in d for d in stored)


def test_item5_a_refused_change_tells_nobody(mail_app):
    """Issue 12 item 5: a change rolled back (here: the last administrator's demotion in
    the same request) mails no notice."""
    client, box = mail_app.test_client(), mail_app.mailbox
    root = users_of(mail_app).create("root", email="root@example.com", role="administrator")[0]
    headers = bearer(login(client, "root")["access_token"])
    r = client.patch(f"{API}/users/{root.id}", headers=headers,
                     json={"email": "root2@example.com", "current_password": STRONG_PASSWORD, "role": "viewer"})
    assert_error(r, 409, "last_administrator")
    assert outbox_idle(mail_app)
    assert box.to("root@example.com") == [] and fetch(mail_app, "root").email == "root@example.com"


@pytest.mark.parametrize("mail", [False, True], ids=["no-mail-configured", "smtp-refuses"])
def test_item5_a_notice_that_cannot_be_mailed_is_in_the_audit_log(make_app, mail):
    """Issue 12 item 5: with no mail configured (or a server that cannot be reached) the
    audit log records the notice instead."""
    import socket
    settings = {}
    if mail:
        with socket.socket() as s:  # a port nobody listens on
            s.bind(("127.0.0.1", 0))
            settings = {"Email.Host": "127.0.0.1", "Email.Port": s.getsockname()[1]}
    app = make_app(settings)
    users_of(app).create("ada", email="ada@example.com")
    client = app.test_client()
    token = login(client, "ada")["access_token"]
    r = client.post(f"{API}/users/me/password", headers=bearer(token),
                    json={"current_password": STRONG_PASSWORD, "new_password": NEW_PASSWORD})
    assert r.status_code == 204
    assert outbox_idle(app)
    recorded = audit(app, "notice_not_mailed")
    assert [(n["target"], n["notice"], n["outcome"]) for n in recorded] == [("ada", "password_change", "failure")]
    assert recorded[0]["reason"] == ("send failed" if mail else "mail not configured")


def test_item3_an_administrator_changing_their_own_address_on_the_admin_pages_needs_sudo(app, client, admin, auth):
    """Issue 12 item 3: the admin pages are no way around /profile's rule either."""
    auth.login("root")
    r = submit(client, f"/admin/people/{admin.id}/details",
               {"first_name": "", "last_name": "", "email": "mallory@example.com"}, page=f"/admin/people/{admin.id}")
    assert r.status_code == 302 and redirect_to(r)[0] == "/sudo"
    assert fetch(app, "root").email == "root@example.com"


def test_item4_upgrading_keeps_pending_links_and_lets_people_who_logged_in_keep_logging_in(make_app, smtp):
    """Issue 12 item 4 (migration m0010): on a database from before it, an unused link keeps
    working for the address it was sent to, and someone unverified who has logged in before
    is not stopped by RequireEmailVerification."""
    from peewee import SqliteDatabase
    from playhouse.migrate import migrate

    from keystead.links import make_link
    from keystead.migrations import _migrator
    from keystead.models import SchemaVersion
    box, mail_settings = smtp
    app = make_app(mail_settings)
    users_of(app).create("ada", email="ada@example.com")
    users_of(app).create("grace", email="grace@example.com")
    client = app.test_client()
    login(client, "grace")
    db = app.extensions["keystead.db"]

    def back_to_before():
        url = make_link(User.get(User.username_key == "ada"), "reset")
        User.update(email_verified=False).where(User.username_key == "grace").execute()
        migrator = _migrator(db)
        if isinstance(db, SqliteDatabase):  # SQLite rebuilds the table: no cascades meanwhile
            db.pragma("foreign_keys", 0)
        migrate(migrator.drop_column("one_time_link", "email_fingerprint"),
                migrator.drop_column("user", "email_ever_verified"))
        if isinstance(db, SqliteDatabase):
            db.pragma("foreign_keys", 1)
        db.execute_sql("DROP TABLE known_client")
        SchemaVersion.delete().where(SchemaVersion.version == 10).execute()
        return url
    url = in_db(app, back_to_before)

    upgraded = make_app({**mail_settings, "Password.RequireEmailVerification": True})
    client = upgraded.test_client()
    assert login(client, "grace")
    r = client.post(f"{API}/auth/reset-password", json={"token": token_of(url), "new_password": NEW_PASSWORD})
    assert r.status_code == 200, r.get_data(as_text=True)
