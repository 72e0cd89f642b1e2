"""Two-factor authentication through the API (SPEC 9): /api/v1/users/me/totp to begin
(password), /confirm (one code; the recovery codes once), DELETE (password and a code);
and the API login's `otp`."""
from __future__ import annotations

import pyotp
import pytest
from api_support import API, assert_error, bearer, in_db, login, users_of
from conftest import STRONG_PASSWORD
from totp_support import code_for, is_enabled, wrong_code

from keystead import totp

TOTP = f"{API}/users/me/totp"


def begin(client, token, password=STRONG_PASSWORD):
    return client.post(TOTP, json={"password": password}, headers=bearer(token))


def confirm(client, token, code):
    return client.post(f"{TOTP}/confirm", json={"code": code}, headers=bearer(token))


def disable(client, token, code, password=STRONG_PASSWORD):
    return client.delete(TOTP, json={"password": password, "code": code}, headers=bearer(token))


def api_login(client, username, password=STRONG_PASSWORD, **extra):
    return client.post(f"{API}/auth/login", json={"username": username, "password": password, **extra})


def turn_on(client, token) -> tuple[str, list[str]]:
    r = begin(client, token)
    assert r.status_code == 200, r.get_data(as_text=True)
    secret = r.get_json()["secret"]
    r = confirm(client, token, code_for(secret))
    assert r.status_code == 200, r.get_data(as_text=True)
    return secret, r.get_json()["recovery_codes"]


def test_begin_confirm_and_log_in_with_a_code(app, client, users):
    users.create("ada")
    token = login(client, "ada")["access_token"]
    r = begin(client, token)
    assert r.status_code == 200
    body = r.get_json()
    assert set(body) == {"secret", "otpauth_url"}
    secret = body["secret"]
    assert pyotp.parse_uri(body["otpauth_url"]).secret == secret
    assert body["otpauth_url"].startswith("otpauth://totp/Keystead:ada?")
    assert not is_enabled(app, "ada")  # not before the confirmation

    r = confirm(client, token, wrong_code(secret))
    assert assert_error(r, 422, "validation_failed")["fields"].keys() == {"code"}
    assert not is_enabled(app, "ada")

    r = confirm(client, token, code_for(secret))
    assert r.status_code == 200
    codes = r.get_json()["recovery_codes"]
    assert len(codes) == 10 and len(set(codes)) == 10
    assert is_enabled(app, "ada")

    # Login now wants the code; each code works once.
    assert_error(api_login(client, "ada"), 401, "otp_required")
    code = code_for(secret, 1)
    r = api_login(client, "ada", otp=code)
    assert r.status_code == 200 and r.get_json()["access_token"]
    assert_error(api_login(client, "ada", otp=code), 401, "invalid_otp")
    assert_error(api_login(client, "ada", otp=code_for(secret, 0)), 401, "invalid_otp")


def test_a_wrong_password_is_a_field_error_and_starts_nothing(app, client, users):
    users.create("ada")
    token = login(client, "ada")["access_token"]
    error = assert_error(begin(client, token, "not-the-password-at-all"), 422, "validation_failed")
    assert error["fields"] == {"password": "The password is not correct."}
    pending = in_db(app, lambda: totp.TotpSetup.select().count())
    assert pending == 0


def test_begin_when_it_is_already_on_is_a_conflict(client, users):
    users.create("ada")
    token = login(client, "ada")["access_token"]
    turn_on(client, token)
    assert_error(begin(client, token), 409, "totp_enabled")


def test_confirm_without_a_set_up_is_a_conflict(client, users):
    users.create("ada")
    token = login(client, "ada")["access_token"]
    assert_error(confirm(client, token, "123456"), 409, "totp_not_started")


def test_the_recovery_codes_are_shown_once_and_work_once_as_otp(app, client, users):
    users.create("ada")
    token = login(client, "ada")["access_token"]
    secret, codes = turn_on(client, token)
    # Confirming again does not show them again.
    assert_error(confirm(client, token, code_for(secret, 1)), 409, "totp_not_started")
    assert "recovery" not in client.get(f"{API}/users/me", headers=bearer(token)).get_data(as_text=True)

    assert api_login(client, "ada", otp=codes[0]).status_code == 200
    assert_error(api_login(client, "ada", otp=codes[0]), 401, "invalid_otp")
    assert api_login(client, "ada", otp=codes[1]).status_code == 200


def test_disable_needs_the_password_and_a_code(app, client, users):
    users.create("ada")
    token = login(client, "ada")["access_token"]
    secret, codes = turn_on(client, token)

    error = assert_error(disable(client, token, code_for(secret, 1), password="not-the-password-at-all"), 422)
    assert error["fields"] == {"password": "The password is not correct."}
    error = assert_error(disable(client, token, wrong_code(secret)), 422)
    assert error["fields"] == {"code": "The code is not correct."}
    error = assert_error(client.delete(TOTP, json={}, headers=bearer(token)), 422)
    assert error["fields"].keys() == {"password", "code"}
    assert is_enabled(app, "ada")

    r = disable(client, token, code_for(secret, 1))
    assert r.status_code == 204 and r.get_data() == b""
    assert not is_enabled(app, "ada")
    assert in_db(app, lambda: totp.RecoveryCode.select().count()) == 0
    assert api_login(client, "ada").status_code == 200  # the password alone again
    assert_error(disable(client, token, codes[0]), 409, "totp_not_enabled")


def test_disable_with_a_recovery_code_and_the_old_codes_die_with_it(client, users):
    users.create("ada")
    token = login(client, "ada")["access_token"]
    _, codes = turn_on(client, token)
    assert disable(client, token, codes[5]).status_code == 204
    turn_on(client, token)  # a new set-up, new recovery codes
    assert_error(api_login(client, "ada", otp=codes[6]), 401, "invalid_otp")
    assert_error(disable(client, token, codes[6]), 422)


def test_wrong_passwords_and_codes_here_count_toward_the_lockout(make_app):
    app = make_app({"Password.LockoutThreshold": 3})
    users_of(app).create("ada")
    client = app.test_client()
    token = login(client, "ada")["access_token"]
    secret, _ = turn_on(client, token)
    assert_error(disable(client, token, code_for(secret, 1), password="not-the-password-at-all"), 422)
    assert_error(disable(client, token, wrong_code(secret)), 422)
    assert_error(disable(client, token, wrong_code(secret)), 422)
    r = disable(client, token, code_for(secret, 1))
    assert_error(r, 423, "locked")
    assert int(r.headers["Retry-After"]) > 0
    assert is_enabled(app, "ada")
    assert_error(api_login(client, "ada", otp=code_for(secret, 1)), 423)


@pytest.mark.parametrize("method, path, body", [
    ("post", TOTP, {"password": STRONG_PASSWORD}),
    ("post", f"{TOTP}/confirm", {"code": "123456"}),
    ("delete", TOTP, {"password": STRONG_PASSWORD, "code": "123456"}),
])
def test_every_endpoint_needs_a_token(client, method, path, body):
    assert_error(getattr(client, method)(path, json=body), 401, "authentication_required")


def test_bad_bodies_are_refused_with_the_usual_errors(client, users):
    users.create("ada")
    token = login(client, "ada")["access_token"]
    assert_error(client.post(TOTP, data="password=x", headers=bearer(token)), 415)
    assert_error(client.post(TOTP, data="{", content_type="application/json", headers=bearer(token)), 400)
    error = assert_error(client.post(TOTP, json={"password": 12345678}, headers=bearer(token)), 422)
    assert error["fields"] == {"password": "Must be a string."}
    assert_error(client.post(f"{TOTP}/confirm", json={"code": ["123456"]}, headers=bearer(token)), 422)


def test_an_api_key_cannot_manage_it_even_with_the_password(client, users):
    """A key is a program's credential: two-factor changes need a login (403 with a key)."""
    users.create("ada")
    token = login(client, "ada")["access_token"]
    key = client.post(f"{API}/users/me/api-keys", json={"name": "script", "current_password": STRONG_PASSWORD},
                      headers=bearer(token)).get_json()["key"]
    header = {"Authorization": f"Key {key}"}
    assert_error(client.post(TOTP, json={"password": STRONG_PASSWORD}, headers=header), 403, "forbidden")
    assert_error(client.post(f"{TOTP}/confirm", json={"code": "123456"}, headers=header), 403, "forbidden")
    assert_error(client.delete(TOTP, json={"password": STRONG_PASSWORD, "code": "123456"}, headers=header),
                 403, "forbidden")
    assert client.post(TOTP, json={"password": STRONG_PASSWORD}, headers=bearer(token)).status_code == 200


def test_the_endpoints_are_described_in_openapi(client):
    paths = client.get(f"{API}/openapi.json").get_json()["paths"]
    assert {"post", "delete"} <= set(paths["/users/me/totp"])
    assert "post" in paths["/users/me/totp/confirm"]
    assert "423" in paths["/users/me/totp"]["delete"]["responses"]
