"""/profile: viewing, editing (UserInfoEditableBy), changing the password (with and without
WebSudoMode) and deleting the account."""
from __future__ import annotations

import time

import pytest
from conftest import STRONG_PASSWORD, UserFactory
from pages import error_beside, field_errors, flashes, form_errors, redirect_to, submit

from keystead import ProviderInfo, hookimpl
from keystead.models import User

NEW_PASSWORD = "vivid-otter-granite-lantern-87"


def log_in(client, username, password=STRONG_PASSWORD):
    r = submit(client, "/login", {"username": username, "password": password})
    return r


def reenter_password(client, password=STRONG_PASSWORD):
    """Web sudo: an address change always asks for it (even with WebSudoMode off)."""
    r = submit(client, "/sudo?next=/profile", {"password": password})
    assert r.status_code == 303, r.get_data(as_text=True)


def fetch(app, username) -> User | None:
    with app.app_context():
        return User.get_or_none(User.username_key == username)


def test_profile_needs_a_login(client):
    r = client.get("/profile")
    assert r.status_code == 302 and redirect_to(r) == ("/login", {"next": "/profile"})


def test_profile_shows_what_keystead_knows(app, client, users):
    from keystead.models import Group, Membership
    user, _ = users.create("ada", first_name="Ada", last_name="Lovelace", role="publisher")
    with app.app_context():
        group = Group.create(name="Analysts", name_key="analysts")
        Membership.create(user=user.id, group=group.id)
    log_in(client, "ada")
    page = client.get("/profile").get_data(as_text=True)
    for text in ("ada", "ada@example.com", "Ada", "Lovelace", "publisher", "Analysts", " UTC"):
        assert text in page
    assert "never" not in page  # last login is known now
    assert 'name="first_name"' in page and 'name="current_password"' in page


def test_edit_names_and_email(app, client, users):
    users.create("ada")
    log_in(client, "ada")
    reenter_password(client)
    r = submit(client, "/profile", {"first_name": "Ada", "last_name": "King", "email": "countess@example.com"})
    assert r.status_code == 303 and r.headers["Location"] == "/profile"
    assert "Your details have been saved." in flashes(client.get("/profile").get_data(as_text=True))
    ada = fetch(app, "ada")
    assert (ada.first_name, ada.last_name, ada.email) == ("Ada", "King", "countess@example.com")


def test_edit_refusals_are_beside_their_fields_and_nothing_is_half_written(app, client, users):
    users.create("grace", email="grace@example.com")
    users.create("ada")
    log_in(client, "ada")
    reenter_password(client)
    r = submit(client, "/profile", {"first_name": "Ada", "last_name": "x" * 101, "email": "grace@example.com"})
    assert r.status_code == 422
    errors = field_errors(r.get_data(as_text=True))
    assert errors == {"last_name": "Use at most 100 characters.", "email": "This email address is already in use."}
    ada = fetch(app, "ada")
    assert (ada.first_name, ada.last_name, ada.email) == ("", "", "ada@example.com")


def test_user_info_editable_by_admin_makes_the_profile_read_only(make_app):
    app = make_app({"Authorization.UserInfoEditableBy": "Admin"})
    factory = UserFactory(app)
    factory.create("ada")
    factory.create("boss", role="administrator")
    client = app.test_client()
    log_in(client, "ada")
    page = client.get("/profile").get_data(as_text=True)
    assert 'name="first_name"' not in page
    assert "Only an administrator can change your names and email address" in page

    r = submit(client, "/profile", {"first_name": "Changed", "email": "changed@example.com"})
    assert r.status_code == 403
    assert fetch(app, "ada").first_name == "" and fetch(app, "ada").email == "ada@example.com"

    admin = app.test_client()
    log_in(admin, "boss")
    assert 'name="first_name"' in admin.get("/profile").get_data(as_text=True)
    assert submit(admin, "/profile", {"first_name": "Boss", "email": "boss@example.com"}).status_code == 303
    assert fetch(app, "boss").first_name == "Boss"


def test_changing_the_email_needs_sudo_in_web_sudo_mode(make_app):
    app = make_app({"Password.WebSudoMode": True})
    UserFactory(app).create("ada")
    client = app.test_client()
    log_in(client, "ada")
    r = submit(client, "/profile", {"first_name": "Ada", "email": "elsewhere@example.com"})
    assert r.status_code == 302 and redirect_to(r) == ("/sudo", {"next": "/profile"})
    assert "Enter your password to change your email address" in " ".join(
        flashes(client.get("/sudo?next=/profile").get_data(as_text=True)))
    assert fetch(app, "ada").email == "ada@example.com" and fetch(app, "ada").first_name == ""

    # Names alone need no re-entry.
    assert submit(client, "/profile", {"first_name": "Ada", "email": "ada@example.com"}).status_code == 303
    submit(client, "/sudo?next=/profile", {"password": STRONG_PASSWORD})
    assert submit(client, "/profile", {"first_name": "Ada", "email": "elsewhere@example.com"}).status_code == 303
    assert fetch(app, "ada").email == "elsewhere@example.com"


def test_new_email_is_verified_again_by_mail(make_app, smtp):
    box, mail_settings = smtp
    app = make_app({**mail_settings, "Password.RequireEmailVerification": True})
    UserFactory(app).create("boss", role="administrator")
    UserFactory(app).create("ada")
    client = app.test_client()
    log_in(client, "ada")
    reenter_password(client)
    r = submit(client, "/profile", {"first_name": "", "email": "new-ada@example.com"})
    assert r.status_code == 303
    assert any("new-ada@example.com" in f for f in flashes(client.get("/profile").get_data(as_text=True)))
    assert box.to("new-ada@example.com")
    assert not fetch(app, "ada").email_verified


# ---------------------------------------------------------------- change password

def test_change_password_keeps_this_session_and_ends_the_others(app, client, users):
    users.create("ada")
    other = app.test_client()
    log_in(other, "ada")
    log_in(client, "ada")
    r = submit(client, "/profile/password", {"current_password": STRONG_PASSWORD, "new_password": NEW_PASSWORD,
                                             "new_password_confirm": NEW_PASSWORD}, page="/profile")
    assert r.status_code == 303 and r.headers["Location"] == "/profile"
    page = client.get("/profile")
    assert page.status_code == 200
    assert "Your password has been changed." in " ".join(flashes(page.get_data(as_text=True)))
    assert other.get("/profile").status_code == 302

    fresh = app.test_client()
    assert log_in(fresh, "ada", STRONG_PASSWORD).status_code == 401
    assert log_in(fresh, "ada", NEW_PASSWORD).status_code == 303


def test_change_password_needs_the_current_password(app, client, users):
    users.create("ada")
    log_in(client, "ada")
    r = submit(client, "/profile/password", {"current_password": "not-my-password", "new_password": NEW_PASSWORD,
                                             "new_password_confirm": NEW_PASSWORD})
    assert r.status_code == 422
    assert error_beside(r.get_data(as_text=True), "current_password") == "The current password is not correct."
    assert log_in(app.test_client(), "ada", STRONG_PASSWORD).status_code == 303


@pytest.mark.parametrize("new,confirm,field,status,message", [
    ("short", "short", "new_password", 422, "Use at least 8 characters."),
    ("password1", "password1", "new_password", 422, "too common"),
    (NEW_PASSWORD, "something-different-99", "new_password_confirm", 400, "The two passwords differ."),
])
def test_refused_new_passwords_are_beside_the_field(app, client, users, new, confirm, field, status, message):
    users.create("ada")
    log_in(client, "ada")
    r = submit(client, "/profile/password", {"current_password": STRONG_PASSWORD, "new_password": new,
                                             "new_password_confirm": confirm})
    assert r.status_code == status
    assert message in error_beside(r.get_data(as_text=True), field)
    assert client.get("/profile").status_code == 200
    assert log_in(app.test_client(), "ada", STRONG_PASSWORD).status_code == 303


def test_change_password_with_web_sudo_mode(make_app):
    app = make_app({"Password.WebSudoMode": True})
    UserFactory(app).create("ada")
    client = app.test_client()
    log_in(client, "ada")
    profile = client.get("/profile").get_data(as_text=True)
    assert 'name="current_password"' not in profile and 'href="/profile/password"' in profile

    sent = client.post("/profile/password", data={})  # CSRF first: even that is refused
    assert sent.status_code == 400
    r = client.get("/profile/password")
    assert r.status_code == 302 and redirect_to(r) == ("/sudo", {"next": "/profile/password"})

    r = submit(client, "/sudo?next=%2Fprofile%2Fpassword", {"password": STRONG_PASSWORD})
    assert r.status_code == 303 and r.headers["Location"] == "/profile/password"
    r = submit(client, "/profile/password", {"current_password": STRONG_PASSWORD, "new_password": NEW_PASSWORD,
                                             "new_password_confirm": NEW_PASSWORD})
    assert r.status_code == 303
    assert client.get("/profile").status_code == 200
    assert log_in(app.test_client(), "ada", NEW_PASSWORD).status_code == 303


class ExampleSSO:
    @hookimpl
    def keystead_provider_info(self):
        return ProviderInfo(name="examplesso", title="Example SSO", login_url="/auth/examplesso/login")


def test_people_of_a_provider_without_passwords_cannot_change_one(make_app):
    app = make_app({"Authentication.Provider": ["password", "examplesso"]}, plugins=[ExampleSSO()])
    user, _ = UserFactory(app).create("outsider", password=None, provider="examplesso")
    client = app.test_client()
    with client.session_transaction() as s:  # as a redirect-based login would leave it
        s["_user_id"] = user.get_id()
        s["login_at"] = s["seen_at"] = int(time.time())
    page = client.get("/profile").get_data(as_text=True)
    assert "managed by your sign-in provider" in page
    assert 'name="current_password"' not in page
    r = submit(client, "/profile/password", {"current_password": "x", "new_password": NEW_PASSWORD,
                                             "new_password_confirm": NEW_PASSWORD}, page="/profile")
    assert r.status_code == 409
    with app.app_context():
        assert User.get_by_id(user.id).password_hash is None


# ---------------------------------------------------------------- delete account

def test_delete_account(app, client, users):
    users.create("boss", role="administrator")
    users.create("ada")
    log_in(client, "ada")
    r = submit(client, "/profile/delete", {"password": STRONG_PASSWORD, "confirm": "y"})
    assert r.status_code == 303 and r.headers["Location"] == "/login"
    assert "Your account has been deleted." in flashes(client.get("/login").get_data(as_text=True))
    assert fetch(app, "ada") is None
    assert client.get("/profile").status_code == 302
    assert log_in(client, "ada").status_code == 401


def test_delete_needs_the_box_ticked_and_the_right_password(app, client, users):
    users.create("boss", role="administrator")
    users.create("ada")
    log_in(client, "ada")
    r = submit(client, "/profile/delete", {"password": STRONG_PASSWORD})
    assert r.status_code == 400
    assert error_beside(r.get_data(as_text=True), "confirm") == "Tick the box to confirm."
    r = submit(client, "/profile/delete", {"password": "not-my-password", "confirm": "y"})
    assert r.status_code == 422
    assert error_beside(r.get_data(as_text=True), "password") == "The password is not correct."
    assert fetch(app, "ada") is not None
    assert client.get("/profile").status_code == 200


def test_last_administrator_cannot_delete_themselves(app, client, users):
    users.create("boss", role="administrator")
    log_in(client, "boss")
    r = submit(client, "/profile/delete", {"password": STRONG_PASSWORD, "confirm": "y"})
    assert r.status_code == 409
    assert "last administrator" in form_errors(r.get_data(as_text=True))[0]
    assert fetch(app, "boss") is not None


def test_delete_with_web_sudo_mode(make_app):
    app = make_app({"Password.WebSudoMode": True})
    factory = UserFactory(app)
    factory.create("boss", role="administrator")
    factory.create("ada")
    client = app.test_client()
    log_in(client, "ada")
    r = client.get("/profile/delete")
    assert r.status_code == 302 and redirect_to(r) == ("/sudo", {"next": "/profile/delete"})
    submit(client, "/sudo?next=%2Fprofile%2Fdelete", {"password": STRONG_PASSWORD})
    r = submit(client, "/profile/delete", {"password": STRONG_PASSWORD, "confirm": "y"})
    assert r.status_code == 303
    assert fetch(app, "ada") is None
