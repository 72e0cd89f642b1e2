"""docs/providers.md is enough to write a provider: every hook is documented with its exact
signature, and the minimal provider written out there works as printed."""
from __future__ import annotations

import inspect
import json
import os
import re
import sys
import types

import bcrypt

from keystead import hookspecs
from keystead.models import Group, Membership, User

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOC = os.path.join(ROOT, "docs", "providers.md")


def read_doc() -> str:
    with open(DOC, encoding="utf-8") as f:
        return f.read()


def test_every_hook_is_documented_with_its_exact_signature():
    doc = read_doc()
    for name, spec in inspect.getmembers(hookspecs, inspect.isfunction):
        if not name.startswith("keystead_"):
            continue
        signature = f"{name}({', '.join(inspect.signature(spec).parameters)})"
        assert f"#### `{signature}`" in doc, signature
        if spec.keystead_spec["firstresult"]:
            assert f"#### `{signature}` — firstresult" in doc, signature


def test_the_minimal_provider_in_the_docs_works_as_printed(make_app, tmp_path, monkeypatch):
    doc = read_doc()
    code = re.search(r"`keystead_jsonfile_provider\.py`\s*```python\n(.*?)```", doc, re.S).group(1)
    module = types.ModuleType("keystead_jsonfile_provider")
    exec(compile(code, "docs/providers.md", "exec"), module.__dict__)
    monkeypatch.setitem(sys.modules, module.__name__, module)
    people = tmp_path / "people.json"
    people.write_text(json.dumps({"ada": {"bcrypt": bcrypt.hashpw(b"analytical-engine", bcrypt.gensalt(4)).decode(),
                                          "email": "ada@example.com", "name": ["Ada", "Lovelace"],
                                          "groups": ["Engineers"]}}))
    monkeypatch.setenv("KEYSTEAD_PLUGIN_JSONFILE_PATH", str(people))
    app = make_app({"Authentication.Provider": ["password", "jsonfile"]}, plugins=[module])
    client = app.test_client()
    assert client.post("/api/v1/auth/login", json={"username": "ada", "password": "wrong-password"}).status_code == 401
    r = client.post("/api/v1/auth/login", json={"username": "ada", "password": "analytical-engine"})
    assert r.status_code == 200 and r.json["access_token"]
    with app.app_context():
        user = User.get(User.username == "ada")
        assert (user.provider, user.email, user.first_name, user.last_name) == \
            ("jsonfile", "ada@example.com", "Ada", "Lovelace")
        assert [g.name for g in Group.select().join(Membership).where(Membership.user == user)] == ["Engineers"]
    # its people cannot change a password here
    r = client.post("/api/v1/users/me/password", json={"current_password": "analytical-engine",
                                                       "new_password": "a-new-long-passphrase"},
                    headers={"Authorization": f"Bearer {r.json['access_token']}"})
    assert r.status_code == 409 and r.json["error"]["code"] == "password_managed_elsewhere"
    # active without its file, it refuses start-up naming the variable
    monkeypatch.setenv("KEYSTEAD_PLUGIN_JSONFILE_PATH", str(tmp_path / "missing.json"))
    from keystead.config import ConfigError
    try:
        make_app({"Authentication.Provider": ["password", "jsonfile"]}, plugins=[module])
    except ConfigError as e:
        assert "KEYSTEAD_PLUGIN_JSONFILE_PATH" in str(e)
    else:
        raise AssertionError("start-up was not refused")
