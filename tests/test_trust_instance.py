"""Issue 12 items 15 and 17: the instance folder and its files (keystead.toml, the secret
key, the SQLite database and its -wal and -shm files) are private to the service's user,
and a configured Server.SecretKey shorter than 32 characters refuses start-up."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from keystead import create_app
from keystead.config import ConfigError
from conftest import STRONG_PASSWORD, TEST_SETTINGS, UserFactory

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATABASE_FILES = ("keystead.db", "keystead.db-wal", "keystead.db-shm")


def mode(path) -> int:
    return os.stat(path).st_mode & 0o777


@pytest.fixture
def open_umask():
    """Start as a careless shell would: files readable by everyone unless we say otherwise."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def start(instance, username="alice", **settings):
    """A real start on the default SQLite database in `instance`, then some writes."""
    app = create_app({**TEST_SETTINGS, **settings}, instance_path=str(instance))
    UserFactory(app).create(username)
    r = app.test_client().post("/api/v1/auth/login", json={"username": username, "password": STRONG_PASSWORD})
    assert r.status_code == 200
    return app


def assert_private(instance, names=("secret_key", *DATABASE_FILES)):
    assert mode(instance) == 0o700
    for name in names:
        assert (instance / name).is_file(), f"{name} is missing"
        assert mode(instance / name) == 0o600, f"{name} is {oct(mode(instance / name))}"


def test_a_new_instance_folder_and_its_files_are_private_after_a_real_start(tmp_path, open_umask):
    """Issue 12 item 15: folder 0700; secret key, database, -wal and -shm 0600."""
    instance = tmp_path / "instance"
    app = start(instance)
    assert_private(instance)
    app.extensions["keystead.db"].close()


def test_a_world_readable_instance_folder_found_at_start_is_made_private(tmp_path, open_umask):
    """Issue 12 item 15: what an earlier version left readable to everyone is fixed at the next start."""
    instance = tmp_path / "instance"
    start(instance).extensions["keystead.db"].close()
    (instance / "keystead.toml").write_text('[Password]\nMinimumLength = 8\n')
    os.chmod(instance, 0o755)
    for name in ("keystead.toml", "secret_key", *DATABASE_FILES):
        if (instance / name).exists():
            os.chmod(instance / name, 0o644)
    assert mode(instance) == 0o755 and mode(instance / "keystead.toml") == 0o644

    app = start(instance, "bob")  # found that way: made private
    assert_private(instance, ("keystead.toml", "secret_key", *DATABASE_FILES))
    app.extensions["keystead.db"].close()


def test_keystead_init_leaves_a_private_instance_folder(tmp_path):
    """Issue 12 item 15, through the command an operator runs first (a umask of 022)."""
    instance = tmp_path / "inst"
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEYSTEAD_")}
    env.update(KEYSTEAD_INSTANCE=str(instance), KEYSTEAD_PASSWORD_BCRYPTROUNDS="4")
    p = subprocess.run([sys.executable, "-c", "import os; os.umask(0o022); from keystead.cli import main; main()",
                        "init"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert "Password:" in p.stdout
    assert_private(instance, ("secret_key", "keystead.db"))
    for name in DATABASE_FILES[1:]:
        if (instance / name).exists():  # left behind only while a connection is open
            assert mode(instance / name) == 0o600


def test_a_database_outside_the_instance_folder_is_created_private(tmp_path, open_umask):
    elsewhere = tmp_path / "data"
    elsewhere.mkdir()
    app = start(tmp_path / "instance", **{"Server.DatabaseURL": f"sqlite:///{elsewhere / 'keystead.db'}"})
    for name in DATABASE_FILES:
        assert mode(elsewhere / name) == 0o600, name
    app.extensions["keystead.db"].close()


def test_the_instance_folder_is_never_inside_the_installed_package(tmp_path, monkeypatch):
    import keystead as package
    inside = os.path.join(os.path.dirname(package.__file__), "instance")
    monkeypatch.setenv("KEYSTEAD_INSTANCE", inside)
    with pytest.raises(ConfigError, match="KEYSTEAD_INSTANCE"):
        create_app(TEST_SETTINGS)
    assert not os.path.exists(inside)


def test_without_keystead_instance_the_folder_is_instance_in_the_working_directory(tmp_path, monkeypatch):
    from keystead.config import default_instance_path
    monkeypatch.chdir(tmp_path)
    assert default_instance_path() == str(tmp_path / "instance")


# ---------------------------------------------------------------- item 17

def _run_wsgi(tmp_path, **env):
    full = {k: v for k, v in os.environ.items() if not k.startswith("KEYSTEAD_")}
    full.update(env, KEYSTEAD_INSTANCE=str(tmp_path / "inst"))
    return subprocess.run([sys.executable, "-c", "import wsgi"], cwd=ROOT, env=full,
                          capture_output=True, text=True, timeout=60)


def test_a_secret_key_of_31_characters_refuses_start_up_with_one_line_that_hides_it(tmp_path):
    """Issue 12 item 17: one line naming Server.SecretKey and what is allowed, never the value."""
    key = "Zq7" + "x" * 27 + "!"
    assert len(key) == 31
    p = _run_wsgi(tmp_path, KEYSTEAD_SERVER_SECRETKEY=key)
    assert p.returncode == 4  # what stops gunicorn (an app that cannot load)
    lines = [line for line in p.stderr.splitlines() if "configuration error" in line]
    assert len(lines) == 1, p.stderr
    assert "Server.SecretKey" in lines[0] and "32 characters" in lines[0]
    assert key not in p.stderr and "Zq7" not in p.stderr and "Traceback" not in p.stderr


@pytest.mark.parametrize("key", ["", "k" * 31])
def test_a_configured_secret_key_shorter_than_32_characters_is_refused(tmp_path, key):
    """Issue 12 item 17, through create_app (keystead.toml or the environment alike)."""
    with pytest.raises(ConfigError) as refused:
        create_app({**TEST_SETTINGS, "Server.SecretKey": key}, instance_path=str(tmp_path))
    assert "Server.SecretKey" in str(refused.value) and "32" in str(refused.value)
    assert not key or key not in str(refused.value)


def test_a_secret_key_of_32_characters_starts_and_signs(tmp_path):
    key = "k" * 32
    app = create_app({**TEST_SETTINGS, "Server.SecretKey": key}, instance_path=str(tmp_path))
    assert app.secret_key == key
    UserFactory(app).create("alice")
    r = app.test_client().post("/api/v1/auth/login", json={"username": "alice", "password": STRONG_PASSWORD})
    assert r.status_code == 200
    app.extensions["keystead.db"].close()
