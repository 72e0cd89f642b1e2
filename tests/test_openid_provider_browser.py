"""Issue 15: a real Chromium signs in to an app through Keystead's OpenID Provider: the
app sends the browser to the authorization endpoint, Keystead asks for the login (with
two-factor authentication), then for consent, and the browser lands back at the app with a
code the app exchanges. The pages keep to the Content-Security-Policy, including the
redirect that answers the consent form (browsers apply form-action to it)."""
from __future__ import annotations

import pytest
import requests

from conftest import STRONG_PASSWORD, UserFactory
from live import browser, live_server, make_live_server, watch_policy_violations  # noqa: F401  (pytest fixtures)
from oidc_provider_support import authorize_path, make_oidc_app, pkce, query_of
from totp_support import code_for, enable_for

CALLBACK = "http://grafana.test/login/generic_oauth"


@pytest.mark.browser
def test_browser_signs_in_to_an_app_with_two_factor_and_consent(browser, live_server):  # noqa: F811
    UserFactory(live_server.app).create("ada", first_name="Ada", last_name="Lovelace")
    secret_totp = enable_for(live_server.app, "ada")[0]
    _, client_id, secret = make_oidc_app(live_server.app, "Grafana", consent=True, redirect_uris=[CALLBACK])
    verifier, challenge = pkce()

    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(15000)
    violations = watch_policy_violations(page)
    landed = []

    def the_app(route):  # the app's callback: record where the browser came back
        landed.append(route.request.url)
        route.fulfill(status=200, content_type="text/html", body="<h1>Grafana</h1>")
    page.route("http://grafana.test/**", the_app)

    page.goto(live_server(authorize_path(client_id, redirect_uri=CALLBACK, challenge=challenge)))
    page.wait_for_url("**/login?next=**")
    page.get_by_label("Username or email").fill("ada")
    page.get_by_label("Password").fill(STRONG_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_label("Code", exact=True).fill(code_for(secret_totp, 1))
    page.get_by_role("button", name="Log in").click()
    assert page.get_by_role("heading", name="Allow Grafana?").is_visible()
    page.get_by_role("button", name="Allow").click()
    page.wait_for_url(CALLBACK + "?**")
    assert page.get_by_role("heading", name="Grafana").is_visible()
    assert violations == []

    callback = query_of(landed[-1])
    assert callback["state"] == "st4te"
    r = requests.post(live_server("/oidc/token"), auth=(client_id, secret), timeout=30, data={
        "grant_type": "authorization_code", "code": callback["code"], "redirect_uri": CALLBACK,
        "code_verifier": verifier})
    assert r.status_code == 200, r.text
    info = requests.get(live_server("/oidc/userinfo"), timeout=30,
                        headers={"Authorization": f"Bearer {r.json()['access_token']}"}).json()
    assert info["preferred_username"] == "ada" and info["name"] == "Ada Lovelace"

    context.close()
