"""Issue 14, section 4: settings an administrator can see. /admin/settings, GET
/api/v1/settings and `keystead settings` show every effective setting and where it came
from (default, keystead.toml, environment, or `overrides`: what the program that built
the app passed to create_app, as this suite does), never a secret; the installed providers
and plugins with their versions; the database kind and schema version; mail and the
rate-limit storage; and a keystead.toml of the changed values that loads back into a new
server with the same settings. Only holders of `settings.read` see them."""
from __future__ import annotations

import logging
import secrets
import tomllib

import pytest
from api_support import API, assert_error, bearer, login, users_of
from conftest import POSTGRES_URL, AuthActions
from live import browser, make_live_server, watch_policy_violations  # noqa: F401  (pytest fixtures)
from servers import free_port

from keystead import create_app
from keystead.config import ConfigError, masked_url, masked_value, read_settings
from keystead.migrations import available_migrations

PAGE = "/admin/settings"


def _secret(label: str) -> str:
    """A value found nowhere else in a response (letters and digits: no escaping hides it)."""
    return f"{label}{secrets.token_hex(12)}"


def _with_password(url: str, password: str) -> str:
    """`url` (postgresql://user@host/db) with `password` in its user part."""
    scheme, rest = url.split("://", 1)
    user, at, host = rest.rpartition("@")
    return f"{scheme}://{user}:{password}@{host}" if at else f"{scheme}://postgres:{password}@{rest}"


def _write_toml(folder, text: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "keystead.toml").write_text(text)


def _settings_of(body: dict) -> dict:
    return {row["key"]: row for row in body["settings"]}


def _page(client, path: str = PAGE):
    return client.get(path)


def _operator_app(make_app):
    """An app with a custom role `operator` holding settings.read only."""
    return make_app({"Authorization.Roles": {"operator": {"permissions": ["settings.read"]}}})


def _give_role(app, username: str, role: str) -> None:
    """Make `username` hold `role` (custom roles are assigned here as the database keeps them)."""
    from api_support import in_db

    from keystead.models import User
    in_db(app, lambda: User.update(role=role).where(User.username == username).execute())


# ---------------------------------------------------------------- every secret set

@pytest.fixture
def secret_app(make_app, tmp_path, database_url, monkeypatch):
    """An app with every secret setting set, from each source: Server.SecretKey in
    keystead.toml, Bootstrap.AdminPassword and Email.Password in the environment,
    OIDC.ClientSecret and a Redis storage URL with a password as overrides, and (on
    PostgreSQL) a database URL with a password. `secret_app.secrets` lists the values."""
    values = {"secret_key": _secret("filekey") + "x" * 8, "admin": _secret("bootstrap"),
              "mail": _secret("mailpw"), "oidc": _secret("oidcsecret"), "redis": _secret("redispw")}
    _write_toml(tmp_path / "instance", f'[Server]\nSecretKey = "{values["secret_key"]}"\n')
    monkeypatch.setenv("KEYSTEAD_BOOTSTRAP_ADMINPASSWORD", values["admin"])
    monkeypatch.setenv("KEYSTEAD_EMAIL_PASSWORD", values["mail"])
    settings = {"OIDC.ClientSecret": values["oidc"], "OIDC.ClientId": "keystead",
                "Email.Host": "127.0.0.1", "Email.Port": free_port(), "Email.Username": "mailer",
                "Server.RateLimitStorage": f"redis://:{values['redis']}@127.0.0.1:{free_port()}/0"}
    if POSTGRES_URL:
        values["database"] = _secret("dbpw")
        settings["Server.DatabaseURL"] = _with_password(database_url, values["database"])
    app = make_app(settings)
    app.secrets = values
    return app


def _assert_no_secret(app, data: bytes | str, where: str) -> None:
    raw = data if isinstance(data, bytes) else data.encode()
    for name, value in app.secrets.items():
        assert value.encode() not in raw, f"the {name} secret appears in {where}"


def test_no_secret_appears_in_the_api_the_page_the_toml_or_the_cli(secret_app, caplog):
    """Every secret setting set: the raw bytes of the API answer, of the page, of the toml
    text and of `keystead settings` (both forms) hold none of them; each secret reads
    (hidden), and URLs keep everything but their password."""
    client = secret_app.test_client()
    headers = bearer(login(client, "admin", secret_app.secrets["admin"])["access_token"])

    api = client.get(f"{API}/settings", headers=headers)
    assert api.status_code == 200, api.get_data(as_text=True)
    _assert_no_secret(secret_app, api.get_data(), "GET /api/v1/settings")
    body = api.get_json()
    _assert_no_secret(secret_app, body["toml"], "the toml text")
    rows = _settings_of(body)
    for key in ("Server.SecretKey", "Bootstrap.AdminPassword", "Email.Password", "OIDC.ClientSecret"):
        assert rows[key]["value"] == "(hidden)", rows[key]
    port = secret_app.extensions["keystead.settings"]["Server.RateLimitStorage"].rsplit(":", 1)[1]
    assert rows["Server.RateLimitStorage"]["value"] == f"redis://:(hidden)@127.0.0.1:{port}"
    assert body["rate_limits"]["storage"] == f"redis://:(hidden)@127.0.0.1:{port}"
    if POSTGRES_URL:
        assert ":(hidden)@" in rows["Server.DatabaseURL"]["value"]
    assert rows["Email.Username"]["value"] == "mailer"  # not a secret: shown

    AuthActions(client).login("admin", secret_app.secrets["admin"])
    page = _page(client)
    assert page.status_code == 200
    _assert_no_secret(secret_app, page.get_data(), "/admin/settings")
    assert b"(hidden)" in page.get_data()

    runner = secret_app.test_cli_runner()
    for args in (["settings"], ["settings", "--toml"]):
        result = runner.invoke(args=args)
        assert result.exit_code == 0, result.output
        _assert_no_secret(secret_app, result.output, f"keystead {' '.join(args)}")
    assert 'Server.SecretKey = "(hidden)"  [file]' in runner.invoke(args=["settings"]).output
    _assert_no_secret(secret_app, caplog.text, "the log")


def test_the_toml_leaves_each_secret_as_a_comment_to_fill_in(secret_app):
    """The copyable keystead.toml names each secret that is set only in a comment, and a
    URL whose password is hidden is commented too (loading "(hidden)" as a password
    would be wrong); it parses as TOML and holds no secret."""
    client = secret_app.test_client()
    headers = bearer(login(client, "admin", secret_app.secrets["admin"])["access_token"])
    text = client.get(f"{API}/settings", headers=headers).get_json()["toml"]
    parsed = tomllib.loads(text)
    for section, key in (("Server", "SecretKey"), ("Bootstrap", "AdminPassword"),
                         ("Email", "Password"), ("OIDC", "ClientSecret"), ("Server", "RateLimitStorage")):
        assert key not in parsed.get(section, {}), (section, key)
        assert f"# {key} = " in text
    assert parsed["Email"]["Username"] == "mailer" and parsed["OIDC"]["ClientId"] == "keystead"
    _assert_no_secret(secret_app, text, "the toml text")


@pytest.mark.parametrize("url, shown", [
    ("postgresql://user:secret@host/db", "postgresql://user:(hidden)@host/db"),
    ("postgresql://keystead:s3cr%40t@db.example.com:5432/keystead?sslmode=require",
     "postgresql://keystead:(hidden)@db.example.com:5432/keystead?sslmode=require"),
    ("postgresql://db.example.com/keystead?user=app&password=secret",
     "postgresql://db.example.com/keystead?user=app&password=(hidden)"),
    ("redis://:secret@cache:6379/0", "redis://:(hidden)@cache:6379/0"),
    ("rediss://default:secret@cache:6380/0", "rediss://default:(hidden)@cache:6380/0"),
    ("redis+sentinel://:secret@s1:26379,s2:26379/mymaster",
     "redis+sentinel://:(hidden)@s1:26379,s2:26379/mymaster"),
    # A password with characters a URL should have encoded still does not show.
    ("postgresql://user:se/cret@host/db", "postgresql://user:(hidden)@host/db"),
    ("postgresql://user:se@c?r#et@host/db", "postgresql://user:(hidden)@host/db"),
    # Nothing to hide: unchanged.
    ("postgresql://user@host:5432/db", "postgresql://user@host:5432/db"),
    ("sqlite:///keystead.db", "sqlite:///keystead.db"),
    ("database://", "database://"),
])
def test_masked_url_hides_only_the_password(url, shown):
    """The one masking function (settings page, API, CLI, doctor, error messages): the
    password part of a URL becomes (hidden); the user, host, port and path stay."""
    assert masked_url(url) == shown
    assert masked_value("Server.DatabaseURL", url) == shown
    assert "secret" not in masked_url(url) and "se/cret" not in masked_url(url)


def test_every_url_valued_and_secret_setting_is_masked_by_declaration():
    """A secret setting reads (hidden) once set (None stays None: not set); a URL in any
    setting, even one not declared secret, loses its password."""
    assert masked_value("OIDC.ClientSecret", "abc") == "(hidden)"
    assert masked_value("Server.SecretKey", None) is None
    assert masked_value("Password.TermsURL", "https://u:pw@terms.example.com/v2") == \
        "https://u:(hidden)@terms.example.com/v2"
    assert masked_value("OIDC.Title", "plain text") == "plain text"


def test_an_invalid_url_setting_is_refused_without_showing_its_password(tmp_path):
    """The start-up error naming a bad Server.RateLimitStorage quotes the value with its
    password hidden."""
    with pytest.raises(ConfigError) as refused:
        read_settings(str(tmp_path),
                      environ={"KEYSTEAD_SERVER_RATELIMITSTORAGE": "memcached://u:hunter2pw@h:11211"})
    assert "hunter2pw" not in str(refused.value)
    assert "memcached://u:(hidden)@h:11211" in str(refused.value)
    with pytest.raises(ConfigError) as refused:
        read_settings(str(tmp_path), environ={"KEYSTEAD_SERVER_SECRETKEY": "tooshortsecret"})
    assert "tooshortsecret" not in str(refused.value) and "(hidden)" in str(refused.value)


# ---------------------------------------------------------------- sources

def test_each_setting_says_whether_it_came_from_the_file_the_environment_or_the_default(
        make_app, tmp_path, monkeypatch, admin_h_for):
    """A value from keystead.toml says file, one from a KEYSTEAD_* variable environment
    (the environment wins over the file), one passed to create_app overrides, and an
    untouched one default; the page shows the same, with the variable's name."""
    _write_toml(tmp_path / "instance", '[Password]\nMinimumLength = 10\nMinimumScore = 1\n'
                                       '[Authentication]\nLifetime = "12h"\n')
    monkeypatch.setenv("KEYSTEAD_PASSWORD_MINIMUMSCORE", "2")
    monkeypatch.setenv("KEYSTEAD_DOCUMENTS_MAXBYTES", "2048")
    app = make_app()
    client, headers = admin_h_for(app)
    rows = _settings_of(client.get(f"{API}/settings", headers=headers).get_json())
    def seen(key):
        return rows[key]["value"], rows[key]["source"]
    assert seen("Password.MinimumLength") == (10, "file")
    assert seen("Authentication.Lifetime") == ("12h", "file")
    assert seen("Password.MinimumScore") == (2, "environment")  # the environment wins over the file
    assert seen("Documents.MaxBytes") == (2048, "environment")
    assert seen("Password.BcryptRounds") == (4, "overrides")
    assert seen("Password.LockoutThreshold") == (10, "default")
    assert seen("Authentication.Inactivity") == ("8h", "default")
    from keystead.config import SETTINGS
    assert list(rows) == list(SETTINGS)  # every setting, in the documented order

    AuthActions(client).login("root")
    html = _page(client).get_data(as_text=True)
    row = html.split('id="setting-Password.MinimumScore"', 1)[1].split("</tr>", 1)[0]
    assert 'data-source="environment"' in row and "KEYSTEAD_PASSWORD_MINIMUMSCORE" in row
    row = html.split('id="setting-Password.MinimumLength"', 1)[1].split("</tr>", 1)[0]
    assert 'data-source="file"' in row and "keystead.toml" in row
    row = html.split('id="setting-Password.LockoutThreshold"', 1)[1].split("</tr>", 1)[0]
    assert 'data-source="default"' in row


@pytest.fixture
def admin_h_for():
    """admin_h_for(app) -> (client, API headers of a new administrator "root")."""
    def make(app):
        users_of(app).create("root", role="administrator")
        client = app.test_client()
        # The toml test sets terms of service: the first login accepts them.
        return client, bearer(login(client, "root", accept_terms=True)["access_token"])
    return make


# ---------------------------------------------------------------- who may see them

def test_a_viewer_is_refused_the_settings_page_and_api(client, users, viewer_h, auth):
    """settings.read is needed: a viewer gets 403 `forbidden` naming it from the API, and
    403 from the page, with no Settings link in the navigation."""
    error = assert_error(client.get(f"{API}/settings", headers=viewer_h), 403, "forbidden")
    assert "settings.read" in error["message"]
    auth.login("vera")
    assert _page(client).status_code == 403
    assert f'href="{PAGE}"' not in client.get("/profile").get_data(as_text=True)


def test_a_custom_role_with_settings_read_sees_the_settings(make_app):
    """A custom role `operator` holding only settings.read (Authorization.Roles) opens the
    API and the page, and the navigation links to it."""
    app = _operator_app(make_app)
    users_of(app).create("otto")
    _give_role(app, "otto", "operator")
    client = app.test_client()
    r = client.get(f"{API}/settings", headers=bearer(login(client, "otto")["access_token"]))
    assert r.status_code == 200, r.get_data(as_text=True)
    AuthActions(client).login("otto")
    assert _page(client).status_code == 200
    assert f'href="{PAGE}"' in client.get("/profile").get_data(as_text=True)


def test_an_administrator_has_the_settings_link(client, admin, auth):
    auth.login("root")
    assert f'href="{PAGE}"' in client.get("/profile").get_data(as_text=True)


def test_anonymous_callers_are_asked_to_log_in(client):
    """No credentials: 401 from the API, a redirect to the login page from the page."""
    assert_error(client.get(f"{API}/settings"), 401, "authentication_required")
    r = _page(client)
    assert r.status_code == 302 and "/login" in r.headers["Location"]


# ---------------------------------------------------------------- the toml round trip

def test_the_toml_loads_into_a_new_server_with_the_same_settings(
        make_app, tmp_path, monkeypatch, admin_h_for, database_url):
    """The toml of the changed values parses with tomllib and, as the keystead.toml of a
    new server (no environment, nothing passed to create_app), gives the same effective
    non-secret settings, each now from the file."""
    _write_toml(tmp_path / "instance", "\n".join([
        "[Authentication]", 'Provider = ["password"]', 'Lifetime = "90m"',
        "[Server]", 'TrustedHosts = ["localhost", ".example.com"]',
        "[Password]", 'AllowedEmailDomains = ["example.com"]', 'TermsURL = "https://example.com/terms"',
        'TermsVersion = "2"',
        "[Authorization.Roles.auditor]", 'permissions = ["audit.read", "people.read"]',
        'title = "Auditor \\"quoted\\" ünïcode"',
        "[Email]", 'Host = "smtp.example.com"', 'TLS = "starttls"', 'Sender = "Keystead <k@example.com>"',
        ""]))
    monkeypatch.setenv("KEYSTEAD_PASSWORD_MINIMUMLENGTH", "12")
    monkeypatch.setenv("KEYSTEAD_OIDC_TITLE", "Line one\ttab")
    first = make_app()
    client, headers = admin_h_for(first)
    body = client.get(f"{API}/settings", headers=headers).get_json()
    parsed = tomllib.loads(body["toml"])
    assert parsed["Password"]["MinimumLength"] == 12 and parsed["Authentication"]["Lifetime"] == "90m"

    monkeypatch.delenv("KEYSTEAD_PASSWORD_MINIMUMLENGTH")
    monkeypatch.delenv("KEYSTEAD_OIDC_TITLE")
    fresh_folder = tmp_path / "fresh"
    _write_toml(fresh_folder, body["toml"])
    fresh = create_app(instance_path=str(fresh_folder))
    try:
        fresh_client = fresh.test_client()
        fresh_headers = bearer(login(fresh_client, "root", accept_terms=True)["access_token"])
        again = fresh_client.get(f"{API}/settings", headers=fresh_headers)
        assert again.status_code == 200
        before, after = _settings_of(body), _settings_of(again.get_json())
        in_toml = {f"{section}.{key}" for section, keys in parsed.items() for key in keys}
        assert {"Password.MinimumLength", "OIDC.Title", "Authorization.Roles", "Server.TrustedHosts",
                "Email.TLS", "Server.DatabaseURL"} <= in_toml
        assert "Authentication.Provider" not in in_toml  # set in the file, but to the default
        for key, row in before.items():
            if row["value"] == "(hidden)":
                continue
            assert after[key]["value"] == row["value"], key
            assert after[key]["source"] == ("file" if key in in_toml else "default"), key
        assert again.get_json()["toml"] == body["toml"]
    finally:
        db = fresh.extensions["keystead.db"]
        db.close_all() if hasattr(db, "close_all") else db.close()


# ---------------------------------------------------------------- what is installed and how it runs

def test_providers_and_plugins_list_the_password_provider_with_its_version(client, admin_h):
    """The built-in password provider is listed as active, offered by the plugin
    `password` of the keystead distribution, with the installed version."""
    from importlib.metadata import version
    body = client.get(f"{API}/settings", headers=admin_h).get_json()
    password = next(p for p in body["providers"] if p["name"] == "password")
    assert password["active"] and password["available"] and password["plugin"] == "password"
    assert password["version"] == version("keystead")
    plugin = next(p for p in body["plugins"] if p["name"] == "password")
    assert plugin["distribution"] == "keystead" and plugin["version"] == version("keystead")
    assert "keystead_authenticate" in plugin["hooks"]
    assert {p["name"] for p in body["providers"]} >= {"password", "oidc", "ldap"}


def test_a_plugin_registered_by_the_program_is_listed_without_a_distribution(make_app, admin_h_for):
    """A plugin handed to create_app (no installed distribution) is listed with its hooks."""
    from keystead import hookimpl

    class Observer:
        @hookimpl
        def keystead_event(self, event):
            return None

    app = make_app(plugins=[Observer()])
    client, headers = admin_h_for(app)
    plugins = client.get(f"{API}/settings", headers=headers).get_json()["plugins"]
    mine = [p for p in plugins if p["distribution"] is None]
    assert len(mine) == 1 and mine[0]["hooks"] == ["keystead_event"] and mine[0]["version"] is None


def test_database_kind_and_schema_version_are_the_running_ones(app, client, admin_h):
    body = client.get(f"{API}/settings", headers=admin_h).get_json()
    assert body["database"] == {"kind": "postgresql" if POSTGRES_URL else "sqlite",
                                "schema_version": max(v for v, _, _ in available_migrations())}


def test_mail_status_shows_the_server_but_never_the_password(make_app, admin_h_for):
    app = make_app({"Email.Host": "smtp.example.com", "Email.TLS": "starttls", "Email.Username": "mailer",
                    "Email.Password": "mailpw-never-shown", "Email.Sender": "k@example.com"})
    client, headers = admin_h_for(app)
    r = client.get(f"{API}/settings", headers=headers)
    assert r.get_json()["mail"] == {"configured": True, "host": "smtp.example.com", "port": 587,
                                    "tls": "starttls", "username": "mailer", "sender": "k@example.com"}
    assert b"mailpw-never-shown" not in r.get_data()


def test_mail_status_says_not_configured_without_a_host(client, admin_h):
    assert client.get(f"{API}/settings", headers=admin_h).get_json()["mail"]["configured"] is False


def test_rate_limit_status_says_degraded_as_health_does(make_app, admin_h_for):
    """An unreachable Redis storage: degraded, as /api/v1/health says; the default
    storage (the database) answers."""
    app = make_app({"Server.RateLimitStorage": f"redis://:pw-never-shown@127.0.0.1:{free_port()}/0"})
    client, headers = admin_h_for(app)
    status = client.get(f"{API}/settings", headers=headers).get_json()["rate_limits"]
    assert status["enabled"] and status["degraded"]
    assert status["storage"].startswith("redis://:(hidden)@127.0.0.1:")
    assert client.get(f"{API}/health").get_json().get("rate_limits") == "degraded"


def test_rate_limit_status_of_the_default_storage(client, admin_h):
    status = client.get(f"{API}/settings", headers=admin_h).get_json()["rate_limits"]
    assert status == {"enabled": True, "storage": "database://", "degraded": False}


def test_the_page_shows_status_providers_and_the_toml_with_a_copy_button(client, admin, auth):
    """The page: database, mail and rate limits; the providers; every section; the toml
    in a <pre> with a copy button that a script file (no inline script) reveals."""
    auth.login("root")
    html = _page(client).get_data(as_text=True)
    assert "schema version" in html and 'id="providers"' in html
    for section in ("Server", "Authentication", "Password", "Email", "OIDC"):
        assert f'<h2 id="section-{section}">{section}</h2>' in html
    assert '<pre class="toml" id="settings-toml">' in html
    assert 'data-copy="settings-toml"' in html and "/static/copy.js" in html
    assert "<script>" not in html


def test_the_settings_command_shows_each_source(make_app, monkeypatch):
    """`keystead settings` prints every setting with its source; --toml the changed ones."""
    monkeypatch.setenv("KEYSTEAD_PASSWORD_MINIMUMLENGTH", "11")
    runner = make_app().test_cli_runner()
    out = runner.invoke(args=["settings"]).output
    assert "Password.MinimumLength = 11  [environment]" in out
    assert "Password.LockoutThreshold = 10  [default]" in out
    assert tomllib.loads(runner.invoke(args=["settings", "--toml"]).output)["Password"]["MinimumLength"] == 11


@pytest.mark.parametrize("value", [
    "plain", 'quote " backslash \\ tab \t newline \n', "ünïcode ✓", "del \x7f bell \x07", 0, 12, True,
    ["a", "b"], [], {"auditor": {"permissions": ["audit.read"], "title": "Auditor.x"}}, {},
    [{"name": "team", "type": "choice", "options": ["a", "b"], "required": False}],
])
def test_each_value_is_written_as_toml_that_reads_back_the_same(value):
    """Strings with quotes, control characters and non-ASCII letters, lists, tables
    (role names may hold dots) and arrays of tables all read back as they were."""
    from keystead.settings_report import toml_value
    assert tomllib.loads(f"v = {toml_value(value)}")["v"] == value


def test_the_secret_list_is_the_settings_declared_secret():
    """Secrets are declared on their setting (secret=True): a new secret setting is masked
    by declaring it so."""
    from keystead.config import SECRET_SETTINGS, SETTINGS
    assert SECRET_SETTINGS == {"Server.SecretKey", "Bootstrap.AdminPassword", "Email.Password",
                               "OIDC.ClientSecret"} | {n for n, s in SETTINGS.items() if s.secret}
    assert all(SETTINGS[n].secret for n in SECRET_SETTINGS)


def test_the_log_of_a_start_with_secrets_holds_none(make_app, caplog, monkeypatch):
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("KEYSTEAD_OIDC_CLIENTSECRET", "oidc-never-logged-1234")
    make_app({"Email.Password": "mail-never-logged-1234"})
    assert "never-logged" not in caplog.text



# ---------------------------------------------------------------- in a real browser

@pytest.mark.browser
def test_chromium_finds_no_secret_on_the_settings_page_and_copies_the_toml(
        browser, make_live_server, monkeypatch):  # noqa: F811
    """In Chromium, with every secret set, the rendered page (its DOM after the script ran)
    holds none; the navigation leads to it; the copy button copies the toml exactly; the
    page keeps to the Content-Security-Policy."""
    values = {"mail": _secret("mailpw"), "oidc": _secret("oidcsecret"), "redis": _secret("redispw"),
              "key": _secret("secretkey") + "k" * 10, "admin": _secret("bootstrap")}
    monkeypatch.setenv("KEYSTEAD_EMAIL_PASSWORD", values["mail"])
    monkeypatch.setenv("KEYSTEAD_BOOTSTRAP_ADMINPASSWORD", values["admin"])
    storage = f"redis://:{values['redis']}@127.0.0.1:{free_port()}/0"
    server = make_live_server({"OIDC.ClientSecret": values["oidc"], "Server.SecretKey": values["key"],
                               "Server.RateLimitStorage": storage})
    context = browser.new_context(permissions=["clipboard-read", "clipboard-write"])
    page = context.new_page()
    page.set_default_timeout(15000)
    violations = watch_policy_violations(page)
    page.goto(server("/login"))
    page.get_by_label("Username or email").fill("admin")
    page.get_by_label("Password").fill(values["admin"])
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(server("/profile"))
    page.get_by_role("link", name="Settings").click()
    page.wait_for_url(server(PAGE))
    dom = page.content()
    for name, value in values.items():
        assert value not in dom, f"the {name} secret is on the page"
    assert page.locator('#setting-Email\\.Password td code').inner_text() == "(hidden)"
    page.get_by_role("button", name="Copy").click()
    page.get_by_text("Copied.").wait_for()
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == page.locator("#settings-toml").text_content()
    assert tomllib.loads(copied)["Password"]["BcryptRounds"] == 4
    assert violations == []
