"""Issue 12: secrets at rest and trusted inputs. Item 6: an OpenID Connect address counts
as verified only on a JSON `true` email_verified, whatever claim carries it. Item 14: TOTP
secrets encrypted with a key derived from Server.SecretKey, recovery codes of 120 bits
stored under a per-code salt, older rows migrated. Item 18: /admin/audit takes the API's
parameters and no others, and builds its links from them alone.

The stored values are read from the real database file (or PostgreSQL database) with
sqlite3 / psycopg2, as someone holding a copy of it would."""
from __future__ import annotations

import hashlib
import html
import logging
import math
import re
import sqlite3
import string
from urllib.parse import parse_qs, urlsplit

import pytest
from api_support import API, bearer, login
from conftest import STRONG_PASSWORD
from pages import login_path, submit
from totp_support import code_for

from keystead.models import User
from oidc_idp import IdentityProvider
from test_oidc import sign_in

OTHER_KEY = "another-secret-key-entirely-0123456789abcdef"


# ---------------------------------------------------------------- helpers

def raw(database_url: str, sql: str, params: tuple = ()) -> list[tuple]:
    """Run `sql` (with ? placeholders) on the database itself, outside the app."""
    if database_url.startswith("sqlite:///"):
        con = sqlite3.connect(database_url[len("sqlite:///"):], timeout=10)
        try:
            rows = con.execute(sql, params).fetchall()
            con.commit()
            return rows
        finally:
            con.close()
    import psycopg2
    con = psycopg2.connect(database_url)
    try:
        with con, con.cursor() as cur:
            cur.execute(sql.replace("?", "%s"), params)
            return cur.fetchall() if cur.description else []
    finally:
        con.close()


def user_id(database_url: str, username: str) -> int:
    return raw(database_url, "SELECT id FROM \"user\" WHERE username = ?", (username,))[0][0]


def turn_on(client, username: str) -> tuple[str, list[str]]:
    """Turn two-factor on through the API; returns (secret, recovery codes)."""
    headers = bearer(login(client, username)["access_token"])
    r = client.post(f"{API}/users/me/totp", json={"password": STRONG_PASSWORD}, headers=headers)
    assert r.status_code == 200, r.get_data(as_text=True)
    secret = r.get_json()["secret"]
    r = client.post(f"{API}/users/me/totp/confirm", json={"code": code_for(secret)}, headers=headers)
    assert r.status_code == 200, r.get_data(as_text=True)
    return secret, r.get_json()["recovery_codes"]


def api_login(client, username: str, otp: str):
    return client.post(f"{API}/auth/login", json={"username": username, "password": STRONG_PASSWORD, "otp": otp})


def stored_secret(database_url: str, username: str) -> str:
    return raw(database_url, "SELECT secret FROM totp_setup WHERE user_id = ?",
               (user_id(database_url, username),))[0][0]


def write_clear_secret_as_an_older_release(database_url: str, username: str, secret: str) -> None:
    """The row as the release before this one left it: the secret in clear in a
    VARCHAR(64), schema migration 12 not yet applied."""
    raw(database_url, "UPDATE totp_setup SET secret = ? WHERE user_id = ?", (secret, user_id(database_url, username)))
    raw(database_url, "DELETE FROM schema_version WHERE version = 12")
    if not database_url.startswith("sqlite:///"):
        raw(database_url, "ALTER TABLE totp_setup ALTER COLUMN secret TYPE VARCHAR(64)")


def bits_per_character(chars: set[str]) -> float:
    """log2 of the smallest usual alphabet holding every character seen."""
    for alphabet in (string.digits, string.hexdigits.lower(), "abcdefghijklmnopqrstuvwxyz234567",
                     string.digits + string.ascii_lowercase, string.digits + string.ascii_letters + "-_"):
        if chars <= set(alphabet):
            return math.log2(len(alphabet))
    return math.log2(len(chars))


# ---------------------------------------------------------------- item 14: TOTP secrets

def test_the_stored_totp_secret_is_encrypted_and_a_code_still_logs_in(client, users, database_url):
    """Issue 12 item 14: the totp_setup row in the database file does not hold the secret,
    in any spelling, yet login with a code from it works."""
    users.create("ada")
    secret, _ = turn_on(client, "ada")
    stored = stored_secret(database_url, "ada")
    assert secret.lower() not in stored.lower()
    assert secret.rstrip("=").lower() not in stored.replace("-", "").lower()
    r = api_login(client, "ada", code_for(secret, 1))
    assert r.status_code == 200, r.get_data(as_text=True)


def test_a_clear_secret_from_an_older_release_keeps_working_and_is_encrypted(make_app, database_url):
    """Issue 12 item 14: a database an older release wrote (secret in clear) is upgraded:
    the next start encrypts the secret, and codes from the person's app still log in."""
    from api_support import users_of
    app = make_app()
    users_of(app).create("ada")
    secret, _ = turn_on(app.test_client(), "ada")
    write_clear_secret_as_an_older_release(database_url, "ada", secret)
    assert stored_secret(database_url, "ada") == secret

    upgraded = make_app()  # the new release starts on that database
    assert secret.lower() not in stored_secret(database_url, "ada").lower()
    r = api_login(upgraded.test_client(), "ada", code_for(secret, 1))
    assert r.status_code == 200, r.get_data(as_text=True)


def test_a_clear_secret_met_while_running_is_encrypted_at_its_first_use(app, client, users, database_url):
    """Issue 12 item 14: a clear secret written behind a running server (a restored row)
    works once more and is encrypted by that use."""
    users.create("ada")
    secret, _ = turn_on(client, "ada")
    raw(database_url, "UPDATE totp_setup SET secret = ? WHERE user_id = ?", (secret, user_id(database_url, "ada")))
    r = api_login(client, "ada", code_for(secret, 1))
    assert r.status_code == 200, r.get_data(as_text=True)
    assert secret.lower() not in stored_secret(database_url, "ada").lower()


def test_another_secret_key_cannot_decrypt_and_a_code_is_refused_cleanly(make_app, database_url, caplog):
    """Issue 12 item 14: the secret is encrypted with a key from Server.SecretKey: a server
    with another key refuses the person's codes as wrong (401, the form's message, never
    500) and logs why; a recovery code still lets them in."""
    from api_support import users_of
    app = make_app({"Server.SecretKey": "the-first-secret-key-0123456789abcdef"})
    users_of(app).create("ada")
    secret, codes = turn_on(app.test_client(), "ada")

    other = make_app({"Server.SecretKey": OTHER_KEY})
    client = other.test_client()
    r = api_login(client, "ada", code_for(secret, 1))
    assert r.status_code == 401 and r.get_json()["error"]["code"] == "invalid_otp"
    assert any("cannot be decrypted" in rec.getMessage() for rec in caplog.records if rec.levelno >= logging.WARNING)
    assert not any(secret in rec.getMessage() for rec in caplog.records)

    browser = other.test_client()
    r = submit(browser, login_path(), {"username": "ada", "password": STRONG_PASSWORD})
    assert r.status_code == 303
    r = submit(browser, "/login/two-factor", {"code": code_for(secret, 1)})
    page = r.get_data(as_text=True)
    assert r.status_code == 401 and "The code is not correct." in page and "Traceback" not in page

    assert api_login(client, "ada", codes[0]).status_code == 200


# ---------------------------------------------------------------- item 14: recovery codes

def test_recovery_codes_carry_at_least_112_bits(client, users):
    """Issue 12 item 14: each recovery code shown holds at least 112 random bits (its
    length without separators times the bits of its alphabet), and all ten differ."""
    users.create("ada")
    _, codes = turn_on(client, "ada")
    assert len(codes) == 10 and len(set(codes)) == 10
    bare = [re.sub(r"[-\s]", "", c) for c in codes]
    per_char = bits_per_character(set("".join(bare)))
    assert min(len(b) for b in bare) * per_char >= 112, codes


def test_stored_recovery_codes_are_salted_and_each_works_once(client, users, database_url):
    """Issue 12 item 14: no stored row is the plain SHA-256 of a code (in any spelling), and
    every row has its own salt, so equal codes would never share a hash; a code still
    logs in exactly once."""
    users.create("ada")
    _, codes = turn_on(client, "ada")
    rows = raw(database_url, "SELECT * FROM recovery_code WHERE user_id = ?", (user_id(database_url, "ada"),))
    stored = {str(value) for row in rows for value in row}
    for code in codes:
        for spelling in (code, code.upper(), re.sub(r"[-\s]", "", code), re.sub(r"[-\s]", "", code).upper()):
            assert hashlib.sha256(spelling.encode()).hexdigest() not in stored
    salts = raw(database_url, "SELECT salt FROM recovery_code WHERE user_id = ?", (user_id(database_url, "ada"),))
    assert len({s for (s,) in salts}) == 10 and all(s and len(s) >= 32 for (s,) in salts)

    assert api_login(client, "ada", codes[3]).status_code == 200
    assert api_login(client, "ada", codes[3]).status_code == 401


def test_recovery_codes_of_an_older_release_work_once_and_their_owner_is_told(make_app, database_url):
    """Issue 12 item 14: 40-bit codes an older release stored as unsalted SHA-256 cannot be
    converted; after the upgrade they still work once each (never made again), and
    /profile/two-factor asks the person to replace them."""
    from api_support import users_of
    from conftest import AuthActions
    app = make_app()
    users_of(app).create("ada")
    secret, _ = turn_on(app.test_client(), "ada")
    write_clear_secret_as_an_older_release(database_url, "ada", secret)
    try:
        raw(database_url, "ALTER TABLE recovery_code DROP COLUMN salt")
    except Exception:  # the release under test may not have the column
        pass
    uid = user_id(database_url, "ada")
    raw(database_url, "DELETE FROM recovery_code WHERE user_id = ?", (uid,))
    old_codes = ["1a2b3-c4d5e", "99f00-0ab12"]
    for code in old_codes:
        digest = hashlib.sha256(code.replace("-", "").encode()).hexdigest()
        raw(database_url, "INSERT INTO recovery_code (user_id, digest) VALUES (?, ?)", (uid, digest))

    upgraded = make_app()
    client = upgraded.test_client()
    AuthActions(client).login("ada")
    submit(client, "/login/two-factor", {"code": code_for(secret, 1)})
    page = client.get("/profile/two-factor").get_data(as_text=True)
    assert "older version" in page and "replace them" in page

    assert api_login(upgraded.test_client(), "ada", old_codes[0]).status_code == 200
    assert api_login(upgraded.test_client(), "ada", old_codes[0]).status_code == 401


# ---------------------------------------------------------------- item 6: OIDC email trust

@pytest.fixture
def idp():
    provider = IdentityProvider().start()
    yield provider
    provider.stop()


def email_after_sign_in(make_app, idp, settings: dict | None = None) -> tuple[str | None, bool]:
    app = make_app(idp.settings(**(settings or {})))
    assert sign_in(app.test_client()).status_code == 302
    with app.app_context():
        user = User.get(User.provider == "oidc")
        return user.email, user.email_verified


@pytest.mark.parametrize("verified", ["false", "true", "False", 1, None], ids=repr)
def test_oidc_email_is_taken_only_on_a_json_true_email_verified(make_app, idp, verified):
    """Issue 12 item 6: `email_verified` as the string "false" (or "true", a number, or
    missing) does not vouch for the address: the person gets no email here."""
    if verified is None:
        del idp.person["email_verified"]
    else:
        idp.person["email_verified"] = verified
    assert email_after_sign_in(make_app, idp) == (None, False)


def test_oidc_email_with_a_json_true_email_verified_is_taken(make_app, idp):
    """Issue 12 item 6: a JSON true vouches for the address."""
    assert idp.person["email_verified"] is True
    assert email_after_sign_in(make_app, idp) == ("grace@example.com", True)


@pytest.mark.parametrize("verified", [False, "false", None], ids=repr)
def test_oidc_custom_email_claim_respects_email_verified(make_app, idp, verified):
    """Issue 12 item 6: with OIDC.EmailClaim naming another claim, the address it carries
    is still taken only when email_verified is a JSON true."""
    idp.person["mail"] = "grace.mail@example.com"
    if verified is None:
        del idp.person["email_verified"]
    else:
        idp.person["email_verified"] = verified
    assert email_after_sign_in(make_app, idp, {"OIDC.EmailClaim": "mail"}) == (None, False)


def test_oidc_custom_email_claim_is_taken_when_verified(make_app, idp):
    """Issue 12 item 6: the custom claim's address is taken on a JSON true."""
    idp.person["mail"] = "grace.mail@example.com"
    assert email_after_sign_in(make_app, idp, {"OIDC.EmailClaim": "mail"}) == ("grace.mail@example.com", True)


# ---------------------------------------------------------------- item 18: /admin/audit

@pytest.fixture
def audit_client(client, users, auth):
    users.create("boss", role="administrator")
    users.create("ada")
    for _ in range(5):
        client.post(f"{API}/auth/login", json={"username": "ada", "password": "nope-nope-nope"})
    auth.login("boss")
    return client


@pytest.mark.parametrize("query", ["endpoint=x", "_method=DELETE", "_external=1", "_anchor=top", "_scheme=https",
                                   "event=login_failed&colour=blue", "values=1&page=2"])
@pytest.mark.parametrize("path", ["/admin/audit", "/admin/audit.csv"])
def test_audit_page_answers_unknown_parameters_with_a_clear_400(audit_client, path, query):
    """Issue 12 item 18: a query parameter the audit log does not take answers 400 with a
    message naming it (it once reached url_for and answered 500)."""
    r = audit_client.get(f"{path}?{query}")
    page = r.get_data(as_text=True)
    assert r.status_code == 400, page[:300]
    assert "Unknown parameter" in page and "Traceback" not in page


def links_in(page: str, pattern: str) -> list[dict]:
    return [parse_qs(urlsplit(html.unescape(href)).query) for href in re.findall(pattern, page)]


def test_audit_paging_links_carry_only_the_known_filters(audit_client):
    """Issue 12 item 18: the page takes the API's parameters (person, actor, event, since,
    until, page, per_page), and its paging and CSV links carry those and nothing else."""
    r = audit_client.get("/admin/audit?event=login_failed&until=2999-12-31&per_page=2&page=2&since=2000-01-01")
    assert r.status_code == 200
    page = r.get_data(as_text=True)
    assert "Page 2 of 3" in page and page.count("<td>login_failed</td>") == 2
    pager = re.search(r'<nav class="pager">(.*?)</nav>', page, re.S).group(1)
    links = links_in(pager, r'href="([^"]+)"')
    assert len(links) == 2
    for link in links:
        assert link == {"event": ["login_failed"], "until": ["2999-12-31"], "since": ["2000-01-01"],
                        "per_page": ["2"], "page": link["page"]}
    assert sorted(link["page"][0] for link in links) == ["1", "3"]
    csv_link = links_in(page, r'href="(/admin/audit\.csv[^"]*)"')
    assert csv_link == [{"event": ["login_failed"], "until": ["2999-12-31"], "since": ["2000-01-01"]}]


def test_audit_page_filters_by_actor_like_the_api(audit_client):
    """Issue 12 item 18: `actor` (who acted) works on the page as in the API, and stays in
    the links."""
    page = audit_client.get("/admin/audit?actor=boss&per_page=1").get_data(as_text=True)
    cells = re.findall(r"<tr>\s*<td>[^<]*</td><td>[^<]*</td><td>[^<]*</td>\s*<td>([^<]*)</td>", page)
    assert cells and set(cells) == {"boss"}
    content = page.split("<main", 1)[1]  # the header's plain Audit link is not a filtered one
    assert all(link.get("actor") == ["boss"] for link in links_in(content, r'href="(/admin/audit[^"]*)"'))
