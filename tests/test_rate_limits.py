"""Per-client-address rate limits: 429 with Retry-After, one bucket for the browser and the
API, off with Server.RateLimits = false. (Workers, Redis and email changes:
tests/test_trust_rate_limits.py.)"""
import pytest

from conftest import csrf_from

LOGIN_LIMIT = 60


@pytest.fixture
def limited_app(make_app):
    # No lockout by name here: only the address limit is under test.
    return make_app({"Password.LockoutThreshold": 0})


def _api_login(client, n, addr="203.0.113.7"):
    return client.post("/api/v1/auth/login", json={"username": f"nobody{n}", "password": "wrong-password"},
                       environ_base={"REMOTE_ADDR": addr})


def test_login_is_limited_per_address_with_retry_after(limited_app):
    client = limited_app.test_client()
    statuses = [_api_login(client, n).status_code for n in range(LOGIN_LIMIT)]
    assert set(statuses) == {401}
    r = _api_login(client, LOGIN_LIMIT)
    assert r.status_code == 429
    assert int(r.headers["Retry-After"]) > 0
    assert r.json["error"]["code"] == "too_many_requests"
    # another address is not affected
    assert _api_login(client, 0, addr="198.51.100.9").status_code == 401


def test_browser_and_api_share_one_bucket(limited_app):
    client = limited_app.test_client()
    for n in range(LOGIN_LIMIT):
        assert _api_login(client, n).status_code == 401
    token = csrf_from(client.get("/login").get_data(as_text=True))
    r = client.post("/login", data={"username": "x", "password": "y", "csrf_token": token},
                    environ_base={"REMOTE_ADDR": "203.0.113.7"})
    assert r.status_code == 429
    assert "Retry-After" in r.headers


def test_rate_limits_can_be_turned_off(make_app):
    client = make_app({"Server.RateLimits": False, "Password.LockoutThreshold": 0}).test_client()
    statuses = {_api_login(client, n).status_code for n in range(LOGIN_LIMIT + 5)}
    assert statuses == {401}


@pytest.mark.parametrize("api_path, body, page, limit", [
    ("/api/v1/auth/register", {"username": "x"}, "/register", 30),
    ("/api/v1/auth/request-password-reset", {"email": "nobody@example.com"}, "/reset-password", 20),
    ("/api/v1/auth/verify-email", {"token": "not-a-token"}, "/verify-email", 30),
])
def test_sign_up_reset_and_verification_are_limited_too(limited_app, api_path, body, page, limit):
    """Each scope is one bucket per address over its API and browser paths (app/ratelimits.py)."""
    client = limited_app.test_client()
    addr = {"REMOTE_ADDR": "203.0.113.8"}
    statuses = {client.post(api_path, json=body, environ_base=addr).status_code for _ in range(limit)}
    assert 429 not in statuses
    r = client.post(api_path, json=body, environ_base=addr)
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
    token = csrf_from(client.get(page).get_data(as_text=True))
    r = client.post(page, data={"csrf_token": token, "email": "nobody@example.com"}, environ_base=addr)
    assert r.status_code == 429 and "Retry-After" in r.headers
    assert client.post(api_path, json=body, environ_base={"REMOTE_ADDR": "198.51.100.9"}).status_code != 429


def test_the_storage_comes_from_server_ratelimitstorage(make_app):
    from keystead.config import ConfigError
    default = make_app().extensions["keystead.limiter"]
    assert default._storage_uri == "database://" and type(default.storage).__name__ == "DatabaseStorage"
    app = make_app({"Server.RateLimitStorage": "memory://"})
    limiter = app.extensions["keystead.limiter"]
    assert limiter._storage_uri == "memory://" and type(limiter.storage).__name__ == "MemoryStorage"
    with pytest.raises(ConfigError, match="RateLimitStorage"):
        make_app({"Server.RateLimitStorage": "not a uri"})
