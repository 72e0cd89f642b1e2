"""Issue 14: a proof-of-work challenge (ALTCHA) on sign-up and on the requests that mail a
link (password reset, new verification link) when Password.SignupChallenge is true: the
server hands out signed challenges, accepts each solution once while it has not expired,
and refuses a missing, forged, tampered, expired or reused one with 422 naming
`challenge` (a message beside the widget in the browser) before anything is created or
mailed. Solutions are computed with the altcha package's own solver, and in Chromium by
the widget served from Keystead itself."""
from __future__ import annotations

import time

import altcha
import pytest

from api_support import API, assert_error, in_db
from conftest import STRONG_PASSWORD, csrf_from, outbox_idle, wait_for
from keystead.models import User
from keystead.signup import challenge as signup_challenge
from live import browser, make_live_server, watch_policy_violations  # noqa: F401  (pytest fixtures)

ON = {"Password.SignupChallenge": True}
ROBOT = "I'm not a robot"


def person(name: str = "ada") -> dict:
    return {"username": name, "email": f"{name}@example.org", "password": STRONG_PASSWORD}


def solved(client) -> str:
    """A challenge from the server, solved with the altcha package's own solver: the
    payload a client sends as `challenge`."""
    r = client.get(f"{API}/auth/challenge")
    assert r.status_code == 200, r.get_data(as_text=True)
    return solve(r.get_json())


def solve(challenge_json: dict) -> str:
    challenge = altcha.Challenge.from_dict(challenge_json)
    solution = altcha.solve_challenge(challenge, timeout=60)
    assert solution is not None
    return altcha.Payload(challenge, solution).to_base64()


def usernames(app) -> set[str]:
    return in_db(app, lambda: {u.username for u in User.select()})


def refused_on_challenge(response) -> str:
    error = assert_error(response, 422, "validation_failed")
    assert set(error["fields"]) == {"challenge"}, error
    return error["fields"]["challenge"]


@pytest.fixture
def on_app(make_app):
    return make_app(ON)


@pytest.fixture
def on_mail_app(make_app, smtp):
    box, settings = smtp
    app = make_app({**ON, **settings})
    app.mailbox = box
    return app


# ---------------------------------------------------------------- the API: sign-up

def test_sign_up_without_a_challenge_is_refused_naming_it_and_creates_nobody(on_app):
    client = on_app.test_client()
    message = refused_on_challenge(client.post(f"{API}/auth/register", json=person()))
    assert ROBOT in message
    refused_on_challenge(client.post(f"{API}/auth/register", json={**person(), "challenge": ""}))
    refused_on_challenge(client.post(f"{API}/auth/register", json={**person(), "challenge": "not base64 at all"}))
    assert usernames(on_app) == set()


def test_sign_up_with_a_challenge_solved_by_the_altcha_solver_succeeds(on_app):
    client = on_app.test_client()
    r = client.post(f"{API}/auth/register", json={**person(), "challenge": solved(client)})
    assert r.status_code == 201, r.get_data(as_text=True)
    assert r.get_json()["username"] == "ada" and usernames(on_app) == {"ada"}


def test_a_solved_challenge_is_accepted_once(on_app):
    client = on_app.test_client()
    payload = solved(client)
    assert client.post(f"{API}/auth/register", json={**person("ada"), "challenge": payload}).status_code == 201
    refused_on_challenge(client.post(f"{API}/auth/register", json={**person("bob"), "challenge": payload}))
    # ...and on another of the guarded requests too
    refused_on_challenge(client.post(f"{API}/auth/request-password-reset",
                                     json={"email": "ada@example.org", "challenge": payload}))
    assert usernames(on_app) == {"ada"}


def test_a_refused_sign_up_still_spends_its_solution(on_app):
    """A solution buys one attempt, so a script cannot probe usernames with one solution."""
    client = on_app.test_client()
    payload = solved(client)
    r = client.post(f"{API}/auth/register", json={**person(), "password": "short", "challenge": payload})
    assert r.status_code == 422 and "challenge" not in r.get_json()["error"]["fields"]
    refused_on_challenge(client.post(f"{API}/auth/register", json={**person(), "challenge": payload}))


def test_an_expired_challenge_is_refused(on_app):
    client = on_app.test_client()
    with on_app.app_context():
        expired = signup_challenge.new_challenge(expires_in=-60)
    assert expired["parameters"]["expiresAt"] < time.time()
    refused_on_challenge(client.post(f"{API}/auth/register", json={**person(), "challenge": solve(expired)}))
    assert usernames(on_app) == set()


def test_an_expired_challenge_made_to_look_fresh_is_refused(on_app):
    """The expiry is signed: moving it into the future breaks the signature."""
    client = on_app.test_client()
    with on_app.app_context():
        expired = signup_challenge.new_challenge(expires_in=-60)
    payload = altcha.Payload.from_base64(solve(expired))
    payload.challenge.parameters.expires_at = int(time.time()) + 600
    refused_on_challenge(client.post(f"{API}/auth/register", json={**person(), "challenge": payload.to_base64()}))
    assert usernames(on_app) == set()


def test_a_challenge_with_a_wrong_signature_is_refused(on_app):
    client = on_app.test_client()
    payload = altcha.Payload.from_base64(solved(client))
    signature = payload.challenge.signature
    payload.challenge.signature = ("0" if signature[0] != "0" else "1") + signature[1:]
    refused_on_challenge(client.post(f"{API}/auth/register", json={**person(), "challenge": payload.to_base64()}))
    assert usernames(on_app) == set()


def test_a_challenge_signed_with_another_key_is_refused(on_app):
    """A script cannot make its own easy challenge: only this server's signature counts."""
    client = on_app.test_client()
    forged = altcha.create_challenge(signup_challenge.ALGORITHM, 1, counter=1,
                                     expires_at=int(time.time()) + 600,
                                     hmac_secret=b"not the server's key", hmac_key_secret=b"nor this")
    refused_on_challenge(client.post(f"{API}/auth/register",
                                     json={**person(), "challenge": solve(forged.to_dict())}))
    unsigned = altcha.create_challenge(signup_challenge.ALGORITHM, 1, counter=1,
                                       expires_at=int(time.time()) + 600)
    refused_on_challenge(client.post(f"{API}/auth/register",
                                     json={**person(), "challenge": solve(unsigned.to_dict())}))
    assert usernames(on_app) == set()


def test_a_wrong_solution_is_refused(on_app):
    client = on_app.test_client()
    challenge = client.get(f"{API}/auth/challenge").get_json()
    wrong = altcha.Payload(altcha.Challenge.from_dict(challenge), altcha.Solution(7, "00" * 32)).to_base64()
    refused_on_challenge(client.post(f"{API}/auth/register", json={**person(), "challenge": wrong}))
    assert usernames(on_app) == set()


def test_a_spent_challenge_is_remembered_only_until_it_expires(on_app):
    """Spent challenges are rows of the rate-limit table that leave with their expiry (the
    table is swept every minute), so they never pile up."""
    client = on_app.test_client()
    payload = solved(client)
    expires_at = altcha.Payload.from_base64(payload).challenge.parameters.expires_at
    assert client.post(f"{API}/auth/register", json={**person(), "challenge": payload}).status_code == 201
    db = on_app.extensions["keystead.db"]
    rows = in_db(on_app, lambda: db.execute_sql(
        f"SELECT expires FROM rate_limit_hit WHERE bucket LIKE {db.param}",
        (signup_challenge.SPENT_PREFIX + "%",)).fetchall())
    assert len(rows) == 1 and expires_at <= rows[0][0] <= expires_at + 2


def test_the_challenge_is_off_by_default(app, client):
    r = client.post(f"{API}/auth/register", json=person())
    assert r.status_code == 201, r.get_data(as_text=True)
    assert_error(client.get(f"{API}/auth/challenge"), 404, "not_found")
    page = client.get("/register").get_data(as_text=True)
    assert "altcha" not in page and "challenge" not in page


def test_getting_challenges_is_rate_limited(on_app):
    """Each answer costs a random number and two HMACs; a flood meets 429 like sign-up."""
    client = on_app.test_client()
    statuses = [client.get(f"{API}/auth/challenge").status_code for _ in range(31)]
    assert statuses[:30] == [200] * 30 and statuses[30] == 429


def test_each_challenge_is_new_and_expires_within_minutes(on_app):
    client = on_app.test_client()
    first, second = (client.get(f"{API}/auth/challenge").get_json() for _ in range(2))
    assert first["signature"] != second["signature"]
    assert first["parameters"]["salt"] != second["parameters"]["salt"]
    assert time.time() < first["parameters"]["expiresAt"] <= time.time() + 15 * 60


# ---------------------------------------------------------------- the API: mail-sending requests

@pytest.mark.parametrize("path", ["request-password-reset", "resend-verification"])
def test_link_requests_need_a_challenge_before_the_address_is_looked_at(on_mail_app, path):
    """Known and unknown addresses get the same 422 without a challenge, and nothing is
    mailed; with a solved one, the usual 202."""
    client = on_mail_app.test_client()
    from api_support import users_of
    users_of(on_mail_app).create("grace", email="grace@example.org")
    known = client.post(f"{API}/auth/{path}", json={"email": "grace@example.org"})
    unknown = client.post(f"{API}/auth/{path}", json={"email": "nobody@example.org"})
    refused_on_challenge(known)
    assert known.get_json() == unknown.get_json()
    assert outbox_idle(on_mail_app) and on_mail_app.mailbox.messages == []
    r = client.post(f"{API}/auth/{path}", json={"email": "grace@example.org", "challenge": solved(client)})
    assert r.status_code == 202, r.get_data(as_text=True)


def test_a_reset_request_with_a_solved_challenge_mails_the_link(on_mail_app):
    client = on_mail_app.test_client()
    from api_support import users_of
    users_of(on_mail_app).create("grace", email="grace@example.org")
    r = client.post(f"{API}/auth/request-password-reset",
                    json={"email": "grace@example.org", "challenge": solved(client)})
    assert r.status_code == 202
    assert wait_for(lambda: on_mail_app.mailbox.to("grace@example.org"))


def test_the_openapi_document_describes_the_challenge(client):
    doc = client.get(f"{API}/openapi.json").get_json()
    assert "429" in doc["paths"]["/auth/challenge"]["get"]["responses"]
    for path in ("/auth/register", "/auth/request-password-reset", "/auth/resend-verification"):
        schema = doc["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]
        assert "challenge" in schema["properties"], path


# ---------------------------------------------------------------- the pages (no browser)

def post_page(client, path: str, data: dict):
    html = client.get(path).get_data(as_text=True)
    return client.post(path, data={"csrf_token": csrf_from(html), **data})


def test_register_page_without_a_solution_shows_the_message_beside_the_widget(on_app):
    client = on_app.test_client()
    page = client.get("/register").get_data(as_text=True)
    assert "<altcha-widget" in page and "/static/signup-challenge.js" in page and "<noscript>" in page
    r = post_page(client, "/register", {**person(), "password_confirm": STRONG_PASSWORD})
    html = r.get_data(as_text=True)
    assert r.status_code == 422
    assert 'id="challenge-error"' in html and "I&#39;m not a robot" in html
    assert usernames(on_app) == set()


def test_register_page_with_a_solution_signs_up(on_app):
    client = on_app.test_client()
    r = post_page(client, "/register", {**person(), "password_confirm": STRONG_PASSWORD,
                                        "challenge": solved(client)})
    assert r.status_code == 303 and usernames(on_app) == {"ada"}


@pytest.mark.parametrize("path", ["/reset-password", "/verify-email"])
def test_link_request_pages_need_a_solution_and_mail_nothing_without(on_mail_app, path):
    client = on_mail_app.test_client()
    from api_support import users_of
    users_of(on_mail_app).create("grace", email="grace@example.org")
    r = post_page(client, path, {"email": "grace@example.org"})
    assert r.status_code == 422 and 'id="challenge-error"' in r.get_data(as_text=True)
    assert outbox_idle(on_mail_app) and on_mail_app.mailbox.messages == []
    r = post_page(client, path, {"email": "grace@example.org", "challenge": solved(client)})
    assert r.status_code == 200 and 'id="challenge-error"' not in r.get_data(as_text=True)


# ---------------------------------------------------------------- Chromium

def fill_sign_up(page, name: str = "ada") -> None:
    page.fill("#username", name)
    page.fill("#email", f"{name}@example.org")
    page.fill("#password", STRONG_PASSWORD)
    page.fill("#password_confirm", STRONG_PASSWORD)


@pytest.mark.browser
def test_browser_widget_solves_the_challenge_and_the_sign_up_succeeds(browser, make_live_server):  # noqa: F811
    server = make_live_server(ON)
    page = browser.new_context().new_page()
    problems = watch_policy_violations(page)
    asked = []
    page.on("request", lambda request: asked.append(request.url))
    page.goto(server("/register"))
    fill_sign_up(page)
    page.locator("altcha-widget label", has_text=ROBOT).click()  # the box's label ticks it
    page.locator(".altcha[data-state=verified]").wait_for(timeout=90_000)
    assert page.get_by_label("Verified").is_checked()  # the label says so, for screen readers too
    assert page.locator("input[type=hidden][name=challenge]").input_value()
    page.get_by_role("button", name="Sign up").click()
    page.wait_for_url(server("/profile"))
    assert "Welcome, ada" in page.content()
    assert problems == []  # under the usual Content-Security-Policy, no exception for it
    assert any(url.endswith("/api/v1/auth/challenge") for url in asked)
    assert all(url.startswith(server.url + "/") for url in asked), asked  # no outside service
    assert usernames(server.app) == {"ada"}


@pytest.mark.browser
def test_browser_reset_request_form_carries_the_widget(browser, make_live_server):  # noqa: F811
    server = make_live_server(ON)
    page = browser.new_context().new_page()
    problems = watch_policy_violations(page)
    page.goto(server("/reset-password"))
    page.fill("#email", "nobody@example.org")
    page.locator("altcha-widget label", has_text=ROBOT).click()
    page.locator(".altcha[data-state=verified]").wait_for(timeout=90_000)
    page.get_by_role("button", name="Send the link").click()
    page.wait_for_load_state()
    assert page.locator("#challenge-error").count() == 0
    assert "If an account" in page.content() and problems == []


@pytest.mark.browser
def test_browser_submit_without_solving_is_held_with_the_message(browser, make_live_server):  # noqa: F811
    server = make_live_server(ON)
    page = browser.new_context().new_page()
    problems = watch_policy_violations(page)
    page.goto(server("/register"))
    page.locator(".altcha[data-state=unverified]").wait_for()
    fill_sign_up(page)
    page.get_by_role("button", name="Sign up").click()
    checkbox = page.get_by_label(ROBOT)
    assert checkbox.evaluate("box => box.validationMessage") == signup_challenge.MISSING
    assert page.url == server("/register") and problems == []
    assert usernames(server.app) == set()


@pytest.mark.browser
def test_browser_without_javascript_says_so_and_the_server_refuses(browser, make_live_server):  # noqa: F811
    server = make_live_server(ON)
    page = browser.new_context(java_script_enabled=False).new_page()
    page.goto(server("/register"))
    assert "needs JavaScript" in page.locator(".challenge").inner_text()
    fill_sign_up(page)
    page.get_by_role("button", name="Sign up").click()
    error = page.locator("#challenge-error")
    assert ROBOT in error.inner_text() and error.get_attribute("role") == "alert"
    assert usernames(server.app) == set()
