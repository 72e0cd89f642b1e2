"""Sign Up (/register): the first account, SelfRegistration, DefaultUserRole, errors beside
their fields, the password rules, and RequireEmailVerification with a real SMTP server."""
from __future__ import annotations

import pytest
from conftest import STRONG_PASSWORD, UserFactory, csrf_from, outbox_idle, wait_for
from pages import blank_tokens, error_beside, field_errors, form_errors, path_of, submit

from keystead.models import User


def sign_up(client, username="ada", email=None, password=STRONG_PASSWORD, confirm=None, **extra):
    data = {"username": username, "email": email or f"{username}@example.com", "password": password,
            "password_confirm": password if confirm is None else confirm, **extra}
    return submit(client, "/register", data)


def role_of(app, username):
    with app.app_context():
        user = User.get_or_none(User.username_key == username.casefold())
        return user.role if user else None


def count(app) -> int:
    with app.app_context():
        return User.select().count()


def test_sign_up_logs_the_person_in(app, client):
    r = sign_up(client, "ada", first_name="Ada", last_name="Lovelace")
    assert r.status_code == 303 and r.headers["Location"] == "/profile"
    page = client.get("/profile").get_data(as_text=True)
    assert "Ada Lovelace" in page and "ada@example.com" in page
    with app.app_context():
        ada = User.get(User.username_key == "ada")
        assert (ada.first_name, ada.last_name) == ("Ada", "Lovelace")
        assert ada.last_login_at is not None


def test_first_account_is_administrator_even_with_self_registration_off(make_app):
    app = make_app({"Password.SelfRegistration": False})
    client = app.test_client()
    assert client.get("/register").status_code == 200  # nobody yet: the first may sign up
    assert sign_up(client, "founder").status_code == 303
    assert role_of(app, "founder") == "administrator"

    other = app.test_client()
    closed = other.get("/register")
    assert closed.status_code == 404
    assert "Sign-up is closed" in closed.get_data(as_text=True)
    token = csrf_from(other.get("/login").get_data(as_text=True))
    r = other.post("/register", data={"csrf_token": token, "username": "second", "email": "second@example.com",
                                      "password": STRONG_PASSWORD, "password_confirm": STRONG_PASSWORD})
    assert r.status_code == 404
    assert count(app) == 1
    assert 'href="/register"' not in other.get("/login").get_data(as_text=True)


@pytest.mark.parametrize("default_role", ["viewer", "publisher"])
def test_later_accounts_get_the_default_role(make_app, default_role):
    app = make_app({"Authorization.DefaultUserRole": default_role})
    sign_up(app.test_client(), "founder")
    sign_up(app.test_client(), "second")
    assert role_of(app, "founder") == "administrator"
    assert role_of(app, "second") == default_role


def test_duplicate_username_and_email_are_shown_beside_their_fields(client, users):
    users.create("ada", email="ada@example.com")
    r = sign_up(client, "ADA", email="Ada@Example.com")
    assert r.status_code == 409
    page = r.get_data(as_text=True)
    assert error_beside(page, "username") == "This username is taken."
    assert error_beside(page, "email") == "This email address is already in use."
    assert 'value="ADA"' in page  # what was typed stays, except the passwords
    assert STRONG_PASSWORD not in page

    r = sign_up(client, "ada2", email="ada@example.com")
    assert r.status_code == 409
    assert field_errors(r.get_data(as_text=True)) == {"email": "This email address is already in use."}


def test_every_problem_is_shown_at_once_and_nothing_is_written(app, client):
    r = sign_up(client, "1bad name", email="not-an-email", password="short", first_name="x" * 101)
    assert r.status_code == 422
    errors = field_errors(r.get_data(as_text=True))
    assert errors["username"] == "Start with a letter."
    assert errors["email"].startswith("Enter a valid email address")
    assert errors["password"] == "Use at least 8 characters."
    assert errors["first_name"] == "Use at most 100 characters."
    assert count(app) == 0


@pytest.mark.parametrize("username", ["login", "Register", "resetpassword"])
def test_reserved_usernames_are_refused(client, username):
    r = sign_up(client, username)
    assert r.status_code == 422
    assert error_beside(r.get_data(as_text=True), "username") == "This username is reserved."


def test_password_confirmation_must_match(app, client):
    r = sign_up(client, "ada", confirm="something-else-entirely")
    assert r.status_code == 400
    assert error_beside(r.get_data(as_text=True), "password_confirm") == "The two passwords differ."
    assert count(app) == 0


def test_required_fields_are_shown_beside_them(client):
    r = submit(client, "/register", {"username": "", "email": "", "password": "", "password_confirm": ""})
    assert r.status_code == 400
    errors = field_errors(r.get_data(as_text=True))
    assert errors["username"] == "Choose a username."
    assert errors["email"] == "Enter your email address."
    assert errors["password"] == "Choose a password."


@pytest.mark.parametrize("weak", ["qwertyuiop", "aaaaaaaaaaaa", "ada2024ada2024", "password12345"])
def test_weak_passwords_are_refused_at_minimum_score_3(make_app, weak):
    app = make_app({"Password.MinimumScore": 3})
    r = sign_up(app.test_client(), "ada", password=weak)
    assert r.status_code == 422
    message = error_beside(r.get_data(as_text=True), "password")
    assert message and ("too easy to guess" in message or "too common" in message)
    assert count(app) == 0


def test_strong_password_passes_minimum_score_3(make_app):
    app = make_app({"Password.MinimumScore": 3})
    assert sign_up(app.test_client(), "ada", password="vivid-otter-granite-lantern-87").status_code == 303


def test_common_password_refused_even_at_score_0(client):
    r = sign_up(client, "ada", password="password1")
    assert r.status_code == 422
    assert "too common" in error_beside(r.get_data(as_text=True), "password")


def test_passwords_longer_than_72_bytes_count_in_full(app, client):
    prefix = ("glacier-harbor-umbrella-" * 4)[:72]
    assert len(prefix.encode()) == 72
    password, sibling = prefix + "-first-ending", prefix + "-other-ending"
    assert sign_up(client, "ada", password=password).status_code == 303
    submit(client, "/logout", {}, page="/profile")

    r = submit(client, "/login", {"username": "ada", "password": sibling})
    assert r.status_code == 401
    r = submit(client, "/login", {"username": "ada", "password": prefix})
    assert r.status_code == 401
    r = submit(client, "/login", {"username": "ada", "password": password})
    assert r.status_code == 303


def test_multibyte_password_over_72_bytes(client):
    password = "ключ-зеркало-облако-" * 3  # 2 bytes a letter: well over 72 bytes
    sibling = password[:-1] + "X"
    assert len(password.encode()) > 72 and password.encode()[:72] == sibling.encode()[:72]
    assert sign_up(client, "ada", password=password).status_code == 303
    submit(client, "/logout", {}, page="/profile")
    assert submit(client, "/login", {"username": "ada", "password": sibling}).status_code == 401
    assert submit(client, "/login", {"username": "ada", "password": password}).status_code == 303


# ---------------------------------------------------------------- RequireEmailVerification

@pytest.fixture
def verify_app(make_app, smtp):
    box, mail_settings = smtp
    app = make_app({**mail_settings, "Password.RequireEmailVerification": True})
    app.mailbox = box
    UserFactory(app).create("founder", role="administrator")  # not the first account
    return app


def test_unverified_account_cannot_log_in_until_the_mailed_link_is_followed(verify_app):
    client = verify_app.test_client()
    r = sign_up(client, "ada")
    assert r.status_code == 201
    page = r.get_data(as_text=True)
    assert "Check your mail" in page and "ada@example.com" in page
    assert client.get("/profile").status_code == 302  # not logged in

    box = verify_app.mailbox
    assert wait_for(lambda: box.to("ada@example.com"))
    link = box.link_to("ada@example.com", "/verify-email/")

    r = submit(client, "/login", {"username": "ada", "password": STRONG_PASSWORD})
    assert r.status_code == 403
    page = r.get_data(as_text=True)
    assert form_errors(page) == ["Verify your email address before logging in."]
    assert 'action="/verify-email"' in page  # a way to ask for a new link
    assert client.get("/profile").status_code == 302

    # A wrong password learns nothing about verification.
    r = submit(client, "/login", {"username": "ada", "password": "not-the-password"})
    assert r.status_code == 401

    r = client.get(path_of(link))
    assert r.status_code == 200 and "Email address verified" in r.get_data(as_text=True)
    assert client.get(path_of(link)).status_code == 400  # single use

    r = submit(client, "/login", {"username": "ada", "password": STRONG_PASSWORD})
    assert r.status_code == 303
    assert client.get("/profile").status_code == 200


def test_resend_verification_answers_the_same_whatever_was_typed(verify_app):
    client = verify_app.test_client()
    sign_up(client, "ada")
    box = verify_app.mailbox
    assert wait_for(lambda: len(box.to("ada@example.com")) == 1)
    first_link = box.link_to("ada@example.com", "/verify-email/")

    answers = [submit(client, "/verify-email", {"email": email})
               for email in ("ada@example.com", "nobody@example.com", "founder@example.com")]
    assert {a.status_code for a in answers} == {200}
    pages = {blank_tokens(a.get_data(as_text=True)) for a in answers}
    assert len(pages) == 1

    assert wait_for(lambda: len(box.to("ada@example.com")) == 2)
    new_link = box.link_to("ada@example.com", "/verify-email/")
    assert new_link != first_link
    assert outbox_idle(verify_app)
    assert not box.to("nobody@example.com") and not box.to("founder@example.com")  # verified already
    assert client.get(path_of(first_link)).status_code == 400  # a new link ends the old one
    assert client.get(path_of(new_link)).status_code == 200


def test_invalid_verification_link(client):
    r = client.get("/verify-email/not-a-real-token")
    assert r.status_code == 400
    assert "This link does not work" in r.get_data(as_text=True)
