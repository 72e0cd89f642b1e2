"""Issue 16: a SAML sign-in in a real Chromium, through the whole flow: Keystead's login
page -> the SAML button -> pysaml2's identity provider (tests/saml_idp.py) on another
site (127.0.0.2, so the browser keeps Keystead's Lax session cookie back from the
identity provider's POST, as in production) -> its login form -> back at Keystead,
signed in, with no Content-Security-Policy violation."""
from __future__ import annotations

import pytest
import requests

from live import browser, make_live_server, watch_policy_violations  # noqa: F401  (pytest fixtures)
from saml_idp import SAMLIdentityProvider

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def other_site_idp():
    server = SAMLIdentityProvider(host="127.0.0.2").start()
    yield server
    server.stop()


def test_sign_in_through_the_identity_provider_in_chromium(browser, make_live_server, other_site_idp):  # noqa: F811
    live = make_live_server(other_site_idp.settings(**{"SAML.Title": "Log in with Example SSO"}))
    other_site_idp.trust(requests.get(live("/auth/saml/metadata"), timeout=10).text)
    page = browser.new_page()
    problems = watch_policy_violations(page)
    acs_posts = []
    page.on("request", lambda r: acs_posts.append(r.post_data_json or {}) if r.url == live("/auth/saml/acs") else None)
    page.goto(live("/login"))
    page.click("text=Log in with Example SSO")
    page.wait_for_url(f"{other_site_idp.base}/sso/redirect?*")
    page.fill("#idp-username", "grace")
    page.fill("#idp-password", "grace-password-1906")
    page.click("text=Sign in at the IdP")
    page.wait_for_url(live("/profile"))
    assert "grace@example.com" in page.content()
    # The identity provider's cross-site POST came without the session cookie; Keystead's
    # page posted the same response again, with it.
    assert [post.get("continued") for post in acs_posts] == [None, "1"]
    assert problems == []
