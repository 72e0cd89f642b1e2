"""The schema is created and upgraded idempotently with a recorded version; the Bootstrap
administrator is created once and never duplicated; `keystead init` prints a generated
password once."""
import re

import pytest

from keystead.config import ConfigError
from keystead.migrations import available_migrations, current_version, upgrade
from keystead.models import SchemaVersion, User

ADMIN = {"Bootstrap.AdminUsername": "root", "Bootstrap.AdminEmail": "root@example.com",
         "Bootstrap.AdminPassword": "a-very-long-admin-passphrase"}


def _db(app):
    return app.extensions["keystead.db"]


def test_schema_version_is_recorded_and_upgrade_is_idempotent(app):
    db = _db(app)
    latest = available_migrations()[-1][0]
    with db.connection_context():
        assert current_version(db) == latest
        assert [v.version for v in SchemaVersion.select()] == [m[0] for m in available_migrations()]
    assert upgrade(db) == latest
    with db.connection_context():
        assert SchemaVersion.select().count() == len(available_migrations())


def test_restart_on_the_same_database_keeps_data(make_app, users):
    users.create("keepme")
    again = make_app()
    with again.app_context(), _db(again).connection_context():
        assert User.select().where(User.username == "keepme").exists()


def test_configured_admin_is_created_once(make_app):
    app = make_app(ADMIN)
    make_app(ADMIN)  # a restart, or a second worker
    with app.app_context(), _db(app).connection_context():
        admins = list(User.select().where(User.username_key == "root"))
        assert len(admins) == 1 and admins[0].role == "administrator" and admins[0].email_verified


def test_configured_admin_can_log_in(make_app):
    app = make_app(ADMIN)
    r = app.test_client().post("/api/v1/auth/login", json={"username": "root",
                                                           "password": ADMIN["Bootstrap.AdminPassword"]})
    assert r.status_code == 200, r.get_data(as_text=True)


def test_an_invalid_configured_admin_password_refuses_startup(make_app):
    with pytest.raises(ConfigError, match="Bootstrap"):
        make_app({**ADMIN, "Bootstrap.AdminPassword": "short"})


def test_without_admin_password_the_server_creates_no_account(app):
    with app.app_context(), _db(app).connection_context():
        assert User.select().count() == 0


def test_init_prints_a_generated_password_once(app, runner):
    first = runner.invoke(args=["init"])
    assert first.exit_code == 0, first.output
    password = re.search(r"Password: (\S+)", first.output).group(1)
    assert "shown only once" in first.output
    second = runner.invoke(args=["init"])
    assert second.exit_code == 0 and "already exists" in second.output and password not in second.output
    with app.app_context(), _db(app).connection_context():
        from keystead.accounts import check_user_password
        admin = User.get(User.username_key == "admin")
        assert admin.role == "administrator" and check_user_password(admin, password)
        assert User.select().count() == 1


def test_init_uses_the_configured_password_and_prints_none(make_app):
    app = make_app({**ADMIN, "Bootstrap.AdminUsername": "boss"})
    with app.app_context(), _db(app).connection_context():
        User.delete().execute()
    result = app.test_cli_runner().invoke(args=["init"])
    assert result.exit_code == 0
    assert "Password:" not in result.output and ADMIN["Bootstrap.AdminPassword"] not in result.output


def test_init_creates_no_second_administrator(app, users, runner):
    users.create("first", role="administrator")
    result = runner.invoke(args=["init"])
    assert result.exit_code == 0 and "already exists" in result.output
    with app.app_context(), _db(app).connection_context():
        assert User.select().count() == 1


def test_the_people_count_follows_every_insert_and_delete(app, users):
    from keystead.accounts import delete_user, user_count
    made = [users.create()[0] for _ in range(3)]
    with app.test_request_context():
        assert user_count() == 3 == User.select().count()
        User.insert_many([{"username": f"bulk{n}", "username_key": f"bulk{n}"} for n in range(5)]).execute()
        delete_user(made[0])
        User.delete().where(User.username_key.startswith("bulk")).execute()
        assert user_count() == 2 == User.select().count()
