"""Password reset from a mailed link (real SMTP server) and account confirmation links."""
from __future__ import annotations

import pytest
from conftest import STRONG_PASSWORD, UserFactory, csrf_from, outbox_idle, wait_for
from pages import blank_tokens, error_beside, flashes, path_of, submit

NEW_PASSWORD = "vivid-otter-granite-lantern-87"


def log_in(client, username, password):
    return submit(client, "/login", {"username": username, "password": password})


@pytest.fixture
def reset_app(mail_app):
    UserFactory(mail_app).create("ada", email="ada@example.com")
    return mail_app


def mailed_reset_link(app, client, email="ada@example.com") -> str:
    r = submit(client, "/reset-password", {"email": email})
    assert r.status_code == 200
    assert wait_for(lambda: app.mailbox.to(email))
    return path_of(app.mailbox.link_to(email, "/reset-password/"))


def test_reset_request_answers_the_same_whether_or_not_the_address_is_known(reset_app):
    client = reset_app.test_client()
    known = submit(client, "/reset-password", {"email": "ada@example.com"})
    unknown = submit(client, "/reset-password", {"email": "nobody@example.com"})
    malformed = submit(client, "/reset-password", {"email": "not an address"})
    assert known.status_code == unknown.status_code == malformed.status_code == 200
    assert (blank_tokens(known.get_data(as_text=True)) == blank_tokens(unknown.get_data(as_text=True))
            == blank_tokens(malformed.get_data(as_text=True)))
    assert wait_for(lambda: reset_app.mailbox.to("ada@example.com"))
    assert outbox_idle(reset_app) and not reset_app.mailbox.to("nobody@example.com")


def test_reset_from_the_mailed_link(reset_app):
    signed_in_elsewhere = reset_app.test_client()
    assert log_in(signed_in_elsewhere, "ada", STRONG_PASSWORD).status_code == 303

    client = reset_app.test_client()
    link = mailed_reset_link(reset_app, client)
    page = client.get(link)
    assert page.status_code == 200
    assert 'name="new_password"' in page.get_data(as_text=True)

    r = submit(client, link, {"new_password": NEW_PASSWORD, "new_password_confirm": NEW_PASSWORD})
    assert r.status_code == 303 and r.headers["Location"] == "/login"
    assert ("Your password has been changed, and every session and API key of your account has ended. "
            "Log in with the new one.") in flashes(
        client.get("/login").get_data(as_text=True))

    assert log_in(client, "ada", STRONG_PASSWORD).status_code == 401
    assert log_in(client, "ada", NEW_PASSWORD).status_code == 303
    # Every session of the person ended with the reset.
    assert signed_in_elsewhere.get("/profile").status_code == 302


def test_reset_link_is_single_use(reset_app):
    client = reset_app.test_client()
    link = mailed_reset_link(reset_app, client)
    submit(client, link, {"new_password": NEW_PASSWORD, "new_password_confirm": NEW_PASSWORD})
    again = client.get(link)
    assert again.status_code == 400
    assert "This link does not work" in again.get_data(as_text=True)
    token = csrf_from(client.get("/reset-password").get_data(as_text=True))
    r = client.post(link, data={"csrf_token": token, "new_password": "yet-another-passphrase-55",
                                "new_password_confirm": "yet-another-passphrase-55"})
    assert r.status_code == 400
    assert log_in(client, "ada", NEW_PASSWORD).status_code == 303


def test_refused_new_password_leaves_the_link_usable(reset_app):
    client = reset_app.test_client()
    link = mailed_reset_link(reset_app, client)
    r = submit(client, link, {"new_password": "short", "new_password_confirm": "short"})
    assert r.status_code == 422
    assert error_beside(r.get_data(as_text=True), "new_password") == "Use at least 8 characters."

    r = submit(client, link, {"new_password": NEW_PASSWORD, "new_password_confirm": "different-passphrase-99"})
    assert r.status_code == 400
    assert error_beside(r.get_data(as_text=True), "new_password_confirm") == "The two passwords differ."

    assert log_in(client, "ada", STRONG_PASSWORD).status_code == 303  # unchanged so far
    assert client.get(link).status_code == 200
    r = submit(client, link, {"new_password": NEW_PASSWORD, "new_password_confirm": NEW_PASSWORD})
    assert r.status_code == 303


def test_a_newer_reset_link_ends_the_older_one(reset_app):
    client = reset_app.test_client()
    first = mailed_reset_link(reset_app, client)
    submit(client, "/reset-password", {"email": "ada@example.com"})
    assert wait_for(lambda: len(reset_app.mailbox.to("ada@example.com")) == 2)
    second = path_of(reset_app.mailbox.link_to("ada@example.com", "/reset-password/"))
    assert first != second
    assert client.get(first).status_code == 400
    assert client.get(second).status_code == 200


@pytest.mark.parametrize("path", ["/reset-password/garbage", "/confirm/garbage",
                                  "/reset-password/" + "x" * 600])
def test_invalid_links_give_a_clear_400_page(client, path):
    r = client.get(path)
    assert r.status_code == 400
    assert "This link does not work" in r.get_data(as_text=True)


def test_a_reset_link_does_not_work_as_a_confirmation_link(app, client, users):
    from keystead.links import make_link
    user, _ = users.create("ada")
    with app.app_context():
        token = make_link(user, "reset").rsplit("/", 1)[1]
    assert client.get(f"/confirm/{token}").status_code == 400
    assert client.get(f"/reset-password/{token}").status_code == 200


# ---------------------------------------------------------------- confirmation

def confirmation_path(app, user) -> str:
    from keystead.links import make_link
    with app.app_context():
        with app.extensions["keystead.db"].connection_context():
            return path_of(make_link(user, "confirm"))


def test_confirmation_link_sets_a_first_password(app, client, users):
    user, password = users.create("newcomer", password=None)
    assert password is None
    assert log_in(client, "newcomer", "anything-at-all").status_code == 401  # no password yet
    link = confirmation_path(app, user)
    page = client.get(link)
    assert page.status_code == 200
    assert "Choose your password" in page.get_data(as_text=True)

    r = submit(client, link, {"new_password": NEW_PASSWORD, "new_password_confirm": NEW_PASSWORD})
    assert r.status_code == 303 and r.headers["Location"] == "/login"
    assert "Your password is set. You can log in now." in flashes(client.get("/login").get_data(as_text=True))
    assert log_in(client, "newcomer", NEW_PASSWORD).status_code == 303
    assert client.get(link).status_code == 400  # spent


def test_confirmation_refuses_a_weak_password_and_stays_usable(make_app):
    app = make_app({"Password.MinimumScore": 3})
    user, _ = UserFactory(app).create("newcomer", password=None)
    client = app.test_client()
    link = confirmation_path(app, user)
    r = submit(client, link, {"new_password": "newcomer2024", "new_password_confirm": "newcomer2024"})
    assert r.status_code == 422
    assert "too easy to guess" in error_beside(r.get_data(as_text=True), "new_password")
    r = submit(client, link, {"new_password": NEW_PASSWORD, "new_password_confirm": NEW_PASSWORD})
    assert r.status_code == 303
    assert log_in(client, "newcomer", NEW_PASSWORD).status_code == 303
