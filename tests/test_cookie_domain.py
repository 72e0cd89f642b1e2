"""Server.CookieDomain: a parent domain for the session cookie, so that one sign-in serves
the apps on sibling hosts; without it the cookie belongs to Keystead's host alone."""
import pytest

from api_support import users_of
from conftest import STRONG_PASSWORD, csrf_from
from keystead import create_app
from keystead.config import ConfigError


def _log_in_cookie_header(app, host: str) -> str:
    client = app.test_client()
    base = f"https://{host}"
    page = client.get("/login", base_url=base).get_data(as_text=True)
    r = client.post("/login", base_url=base, headers={"Origin": base, "Sec-Fetch-Site": "same-origin"},
                    data={"csrf_token": csrf_from(page), "username": "ada", "password": STRONG_PASSWORD})
    assert r.status_code in (302, 303), r.get_data(as_text=True)
    return "; ".join(v for k, v in r.headers.items() if k.lower() == "set-cookie")


def test_the_session_cookie_covers_the_parent_domain_when_configured(make_app):
    app = make_app({"Server.PublicURL": "https://auth.example.com", "Server.CookieDomain": "example.com"})
    users_of(app).create("ada")
    cookie = _log_in_cookie_header(app, "auth.example.com")
    assert "__Secure-keystead=" in cookie and "Domain=example.com" in cookie.replace("Domain=.", "Domain=")
    assert "Secure" in cookie and "HttpOnly" in cookie


def test_without_it_the_cookie_is_for_this_host_only(make_app):
    app = make_app({"Server.PublicURL": "https://auth.example.com"})
    users_of(app).create("ada")
    cookie = _log_in_cookie_header(app, "auth.example.com")
    assert "__Host-keystead=" in cookie and "Domain=" not in cookie


@pytest.mark.parametrize("domain", ["other.org", "com", "bad domain"])
def test_a_domain_that_is_not_a_parent_of_the_public_host_refuses_start_up(tmp_path, domain):
    with pytest.raises(ConfigError, match="Server.CookieDomain"):
        create_app({"Server.PublicURL": "https://auth.example.com", "Server.CookieDomain": domain},
                   instance_path=str(tmp_path / "instance"))
