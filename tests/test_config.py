"""Configuration (SPEC 3): file, environment overrides, durations, validation."""
import os
import subprocess
import sys

import pytest

from keystead import create_app
from keystead.config import SETTINGS, ConfigError, env_value, parse_duration, read_settings

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def write_config(folder, text):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "keystead.toml").write_text(text)


def test_defaults_match_the_spec_table(tmp_path):
    s = read_settings(str(tmp_path), environ={})
    assert s["Server.DatabaseURL"] == "sqlite:///keystead.db"
    assert s["Server.PublicURL"] == "http://127.0.0.1:8000"
    assert s["Authentication.Provider"] == ["password"]
    assert s["Authentication.Lifetime"] == 24 * 3600
    assert s["Authentication.Inactivity"] == 8 * 3600
    assert s["Authentication.AccessTokenLifetime"] == 3600
    assert s["Authentication.RefreshTokenLifetime"] == 7 * 86400
    assert s["Password.MinimumScore"] == 0 and s["Password.MinimumLength"] == 8
    assert s["Password.BcryptRounds"] == 12 and s["Password.WebSudoModeDuration"] == 300
    assert s["Password.LockoutThreshold"] == 10 and s["Password.LockoutDuration"] == 900
    assert s["Authorization.DefaultUserRole"] == "viewer"
    assert s["Authorization.UserInfoEditableBy"] == "AdminAndSelf"
    assert s["Bootstrap.AdminUsername"] == "admin" and s["Bootstrap.AdminPassword"] is None
    assert s["Email.Host"] is None and s["Documents.MaxBytes"] == 10485760


def test_file_then_environment(tmp_path):
    write_config(tmp_path, '[Password]\nMinimumScore = 2\nMinimumLength = 10\n'
                           '[Authentication]\nProvider = ["password"]\nLifetime = "2h"\n')
    s = read_settings(str(tmp_path), environ={"KEYSTEAD_PASSWORD_MINIMUMSCORE": "3"})
    assert s["Password.MinimumScore"] == 3  # the environment wins
    assert s["Password.MinimumLength"] == 10
    assert s["Authentication.Lifetime"] == 7200


def test_section_and_key_names_are_case_insensitive(tmp_path):
    write_config(tmp_path, "[password]\nminimumscore = 1\n")
    assert read_settings(str(tmp_path), environ={})["Password.MinimumScore"] == 1


@pytest.mark.parametrize("raw, value", [("2", 2), ("true", True), ('["password", "oidc"]', ["password", "oidc"]),
                                        ("5m", "5m"), ("https://example.com/x", "https://example.com/x")])
def test_environment_values_are_toml_when_they_parse(raw, value):
    assert env_value(raw) == value


@pytest.mark.parametrize("text, seconds", [("90s", 90), ("5m", 300), ("8h", 28800), ("7d", 604800), (45, 45)])
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("bad", ["5", "5x", "-5m", "0s", "", True, 1.5, "m5"])
def test_bad_durations(bad):
    with pytest.raises(ValueError):
        parse_duration(bad)


@pytest.mark.parametrize("env, words", [
    ({"KEYSTEAD_PASSWORD_MINIMUMSCORE": "5"}, ["Password.MinimumScore", "5", "0 to 4"]),
    ({"KEYSTEAD_PASSWORD_MINIMUMLENGTH": "5"}, ["Password.MinimumLength", "5", "from 6 to 1024"]),
    ({"KEYSTEAD_PASSWORD_BCRYPTROUNDS": "17"}, ["Password.BcryptRounds", "17", "4 to 16"]),
    ({"KEYSTEAD_AUTHENTICATION_LIFETIME": "soon"}, ["Authentication.Lifetime", "soon", "duration"]),
    ({"KEYSTEAD_AUTHORIZATION_DEFAULTUSERROLE": "administrator"}, ["DefaultUserRole", "viewer, publisher"]),
    ({"KEYSTEAD_AUTHORIZATION_USERINFOEDITABLEBY": "Everyone"}, ["UserInfoEditableBy", "AdminAndSelf"]),
    ({"KEYSTEAD_SERVER_PUBLICURL": "ftp://x"}, ["Server.PublicURL", "http"]),
    ({"KEYSTEAD_PASSWORD_SELFREGISTRATION": "yes"}, ["SelfRegistration", "true or false"]),
    ({"KEYSTEAD_EMAIL_TLS": "maybe"}, ["Email.TLS", "starttls"]),
])
def test_invalid_values_name_section_key_value_and_what_is_allowed(tmp_path, env, words):
    with pytest.raises(ConfigError) as e:
        read_settings(str(tmp_path), environ=env)
    message = str(e.value)
    assert "\n" not in message
    for word in words:
        assert word in message


def test_unknown_setting_in_file_is_refused(tmp_path):
    write_config(tmp_path, "[Password]\nMinimumScor = 2\n")
    with pytest.raises(ConfigError, match="unknown setting Password.MinimumScor"):
        read_settings(str(tmp_path), environ={})


def test_broken_toml_is_refused(tmp_path):
    write_config(tmp_path, "[Password\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        read_settings(str(tmp_path), environ={})


def test_secret_values_are_never_shown(tmp_path):
    with pytest.raises(ConfigError) as e:
        read_settings(str(tmp_path), environ={"KEYSTEAD_EMAIL_PASSWORD": "[1, 2]"})
    assert "1, 2" not in str(e.value) and "hidden" in str(e.value)


def test_every_setting_has_an_environment_name():
    names = {"KEYSTEAD_" + n.replace(".", "_").upper() for n in SETTINGS}
    assert len(names) == len(SETTINGS)


def _run_wsgi(tmp_path, **env):
    full = {k: v for k, v in os.environ.items() if not k.startswith("KEYSTEAD_")}
    full.update(env, KEYSTEAD_INSTANCE=str(tmp_path / "inst"))
    return subprocess.run([sys.executable, "-c", "import wsgi"], cwd=ROOT, env=full,
                          capture_output=True, text=True, timeout=60)


def test_wsgi_refuses_startup_with_one_line(tmp_path):
    p = _run_wsgi(tmp_path, KEYSTEAD_PASSWORD_MINIMUMSCORE="5")
    assert p.returncode == 4  # gunicorn's "app failed to load": its master stops (tests/test_serving.py)
    lines = [line for line in p.stderr.splitlines() if "configuration error" in line]
    assert len(lines) == 1 and "MinimumScore" in lines[0] and "Traceback" not in p.stderr


def test_instance_folder_is_created_with_secret_key_and_database(tmp_path):
    instance = tmp_path / "a" / "b"
    app = create_app({"Password.BcryptRounds": 4}, instance_path=str(instance))
    assert (instance / "secret_key").is_file() and (instance / "keystead.db").is_file()
    assert oct((instance / "secret_key").stat().st_mode & 0o777) == "0o600"
    again = create_app({"Password.BcryptRounds": 4}, instance_path=str(instance))
    assert app.secret_key == again.secret_key  # generated once, then read


def test_relative_sqlite_path_is_inside_the_instance_folder(tmp_path):
    create_app({"Server.DatabaseURL": "sqlite:///sub.db"}, instance_path=str(tmp_path))
    assert (tmp_path / "sub.db").is_file()


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(app):
    db = app.extensions["keystead.db"]
    if "sqlite" not in type(db).__name__.lower():
        pytest.skip("SQLite only")
    with db.connection_context():
        assert db.execute_sql("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute_sql("PRAGMA busy_timeout").fetchone()[0] >= 1000
        assert db.execute_sql("PRAGMA foreign_keys").fetchone()[0] == 1


def test_configured_secret_key_is_used(tmp_path):
    app = create_app({"Server.SecretKey": "k" * 40}, instance_path=str(tmp_path))
    assert app.secret_key == "k" * 40
    assert not (tmp_path / "secret_key").exists()


def test_https_public_url_hardens_the_session_cookie(make_app):
    app = make_app({"Server.PublicURL": "https://auth.example.com"})
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["SESSION_COOKIE_NAME"].startswith("__Host-")
    assert app.config["SESSION_COOKIE_HTTPONLY"] and app.config["SESSION_COOKIE_SAMESITE"] == "Lax"
