"""The provider contract (SPEC 7): registration by entry point, validation at start-up,
providers as configuration chooses them, identity mapping and events."""
import inspect
import os
import tomllib

import pytest

from keystead import create_app, hookspecs
from keystead.accounts import create_user
from keystead.config import ConfigError
from keystead.errors import AuthenticationFailed, ValidationFailed
from keystead.login import log_in_with_password
from keystead.models import ExternalIdentity, Group, Membership, User
from plugins import static_provider
from plugins.recorder import Recorder

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_every_hook_has_a_docstring_that_says_how_results_combine():
    specs = [f for name, f in inspect.getmembers(hookspecs, inspect.isfunction) if name.startswith("keystead_")]
    assert len(specs) >= 7
    for spec in specs:
        doc = inspect.getdoc(spec) or ""
        assert "Called" in doc, spec.__name__
        firstresult = spec.keystead_spec["firstresult"]
        assert ("first non-None" in doc) == firstresult, spec.__name__


def test_declared_entry_points_match_the_modules_in_providers():
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        declared = tomllib.load(f)["project"]["entry-points"]["keystead.providers"]
    modules = {name[:-3] for name in os.listdir(os.path.join(ROOT, "providers"))
               if name.endswith(".py") and name != "__init__.py"}
    assert set(declared) == modules
    assert all(target == f"keystead.providers.{name}" for name, target in declared.items())


def test_built_in_providers_are_registered_through_the_entry_points(app):
    pm = app.extensions["keystead"]
    names = {pm.get_name(p) for p in pm.get_plugins()}
    assert {"password", "ldap", "oidc", "saml", "pam"} <= names
    dists = {pm.get_name(plugin): dist.project_name for plugin, dist in pm.list_plugin_distinfo()}
    assert dists["password"] == "keystead", "the password provider did not come from an entry point"


def test_providers_endpoint(client):
    body = client.get("/api/v1/providers").json
    assert body["password"] == {"available": True, "active": True}
    for stub in ("ldap", "oidc", "saml"):  # each needs settings first
        assert body[stub] == {"available": False, "active": False}
    # PAM needs no setting: available as soon as python-pam is installed (the test extra has it)
    assert body["pam"] == {"available": True, "active": False}


@pytest.mark.parametrize("stub, hint", [("ldap", "LDAP.ServerURI"), ("saml", "SAML.IdPMetadataURL or SAML.IdPMetadataFile"),
                                        ("oidc", "Authlib")])
def test_naming_a_stub_refuses_startup_saying_what_is_missing(make_app, stub, hint):
    with pytest.raises(ConfigError) as e:
        make_app({"Authentication.Provider": stub})
    assert "Authentication.Provider" in str(e.value) and hint in str(e.value)


def test_an_unknown_provider_refuses_startup(make_app):
    with pytest.raises(ConfigError, match="installed providers"):
        make_app({"Authentication.Provider": ["password", "kerberos"]})


class Misspelled:
    @hookspecs.hookimpl
    def keystead_authentcate(self, provider, username, password):
        return None


class WrongArguments:
    @hookspecs.hookimpl
    def keystead_authenticate(self, provider, login, secret):
        return None


@pytest.mark.parametrize("plugin, hook", [(Misspelled(), "keystead_authentcate"),
                                          (WrongArguments(), "keystead_authenticate")])
def test_a_plugin_with_a_bad_hook_is_refused_at_startup(make_app, plugin, hook):
    with pytest.raises(ConfigError) as e:
        make_app(plugins=[plugin])
    assert hook in str(e.value)


def test_third_party_provider_is_activated_by_configuration_alone(make_app):
    app = make_app({"Authentication.Provider": ["password", "static"]}, plugins=[static_provider])
    assert app.test_client().get("/api/v1/providers").json["static"] == {"available": True, "active": True}
    with app.test_request_context():
        user = log_in_with_password("robot", "beep-boop-1234")
        assert user.provider == "static" and user.email == "robot@example.com"
        assert user.first_name == "Robot" and user.password_hash is None
        # the outside name is made valid and unique under SPEC 4
        assert user.username == "Robot_Smith"
        groups = {g.name for g in Group.select().join(Membership).where(Membership.user == user)}
        assert groups == {"Engineers", "Ops"}
        again = log_in_with_password("robot", "beep-boop-1234")
        assert again.id == user.id and ExternalIdentity.select().count() == 1
        with pytest.raises(AuthenticationFailed):
            log_in_with_password("robot", "wrong")


def test_an_installed_but_inactive_provider_does_not_log_anyone_in(make_app):
    app = make_app(plugins=[static_provider])
    with app.test_request_context():
        with pytest.raises(AuthenticationFailed):
            log_in_with_password("robot", "beep-boop-1234")


def test_events_and_password_policies_from_plugins(make_app):
    recorder = Recorder()
    app = make_app(plugins=[recorder])
    with app.test_request_context():
        with pytest.raises(ValidationFailed) as e:
            create_user("ada", "ada@example.com", "my-keystead-password")
        assert "name of this server" in e.value.fields["password"]
        create_user("ada", "ada@example.com", "a-good-long-passphrase")
        log_in_with_password("ada", "a-good-long-passphrase")
        with pytest.raises(AuthenticationFailed):
            log_in_with_password("ada", "wrong-password-here")
    assert recorder.names() == ["user_create", "login", "login_failed"]
    failed = recorder.events[-1]
    assert "wrong-password-here" not in repr(failed)  # secrets never reach observers


def test_keystead_providers_command_lists_plugins_and_hooks(runner):
    result = runner.invoke(args=["providers"])
    assert result.exit_code == 0
    assert "password     active" in result.output
    assert "keystead_authenticate" in result.output


def test_a_user_of_an_outside_provider_never_logs_in_with_a_local_password(make_app):
    app = make_app({"Authentication.Provider": ["password", "static"]}, plugins=[static_provider])
    with app.test_request_context():
        user = log_in_with_password("robot", "beep-boop-1234")
        User.update(password_hash=None).where(User.id == user.id).execute()
        with pytest.raises(AuthenticationFailed):
            log_in_with_password(user.username, "")


def test_app_factory_builds_independent_apps(tmp_path):
    a = create_app({"Password.BcryptRounds": 4}, instance_path=str(tmp_path / "a"))
    b = create_app({"Password.BcryptRounds": 5}, instance_path=str(tmp_path / "b"))
    assert a.extensions["keystead"] is not b.extensions["keystead"]
    assert a.extensions["keystead.settings"]["Password.BcryptRounds"] == 4
