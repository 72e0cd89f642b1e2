"""Issue 14: the example authorization plugin (examples/keystead-team-documents), installed
with pip the way an operator installs one, changes an answer with no change to the core:
an auditor who may read every document (documents.read_all) reads one of someone outside
their team (200) until the plugin is installed, then it is hidden (404), while the owner's
team mate still reads it; a steward outside the team who may change anyone's documents
(people.manage) shares it with their own group (204) until then, and is refused (403
forbidden) even once a role lets them read every team's documents; the permission the plugin defines becomes valid in
Authorization.Roles and lifts its rule (administrators hold it, as every permission)."""
from __future__ import annotations

import importlib
import shutil
import subprocess
import sys

import pytest

from api_support import API, bearer, login, users_of
from documents_support import create_text, make_group
from keystead.config import ConfigError

EXAMPLE = "examples/keystead-team-documents"
AUDITOR = {"auditor": {"permissions": ["documents.read", "documents.read_all"]}}
STEWARD = {"steward": {"permissions": ["documents.read", "documents.read_all", "documents.share", "people.manage"]}}
STEWARD_READING_ALL = {"steward": {"permissions": STEWARD["steward"]["permissions"] + ["documents.read_any_team"]}}
RECORDS = {"records": {"permissions": ["documents.read", "documents.read_all", "documents.read_any_team"]}}


@pytest.fixture
def install(tmp_path):
    """install() pip-installs the example into a folder of its own and puts it on sys.path
    (taken off again after the test)."""
    import os
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    target = str(tmp_path / "site-packages")

    def run():
        source = tmp_path / "src"
        shutil.copytree(os.path.join(root, EXAMPLE), source,
                        ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
        result = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
                                 "--no-build-isolation", "--target", target, str(source)],
                                capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stdout + result.stderr
        sys.path.insert(0, target)
        importlib.invalidate_caches()  # importlib.metadata's cache, which pluggy reads

    yield run
    if target in sys.path:
        sys.path.remove(target)
    sys.modules.pop("keystead_team_documents", None)
    importlib.invalidate_caches()


def test_installing_the_plugin_turns_a_read_into_404_and_a_share_into_403(make_app, install):
    app = make_app({"Authorization.Roles": {**AUDITOR, **STEWARD}})
    users = users_of(app)
    users.create("root", role="administrator")
    users.create("audrey", role="auditor")
    paul, _ = users.create("paul", role="publisher")
    tess, _ = users.create("tess")
    make_group(app, "Team", [paul, tess])
    stella, _ = users.create("stella", role="steward")
    board = make_group(app, "Board", [stella])
    client = app.test_client()
    doc = create_text(client, login(client, "paul")["access_token"], "Team plan", "only for the team")
    audrey_h = bearer(login(client, "audrey")["access_token"])
    assert client.get(f"{API}/documents/{doc['id']}", headers=audrey_h).status_code == 200
    stella_h = bearer(login(client, "stella")["access_token"])
    share = f"{API}/documents/{doc['id']}/groups/{board.id}"
    assert client.put(share, headers=stella_h).status_code == 204
    assert client.delete(share, headers=stella_h).status_code == 204
    with pytest.raises(ConfigError, match="documents.read_any_team"):
        make_app({"Authorization.Roles": RECORDS})  # not a permission before the plugin is installed

    install()
    app = make_app({"Authorization.Roles": {**AUDITOR, **STEWARD_READING_ALL, **RECORDS}})
    pm = app.extensions["keystead"]
    assert "team-documents" in {pm.get_name(p) for p in pm.get_plugins()}
    client = app.test_client()
    audrey_h = bearer(login(client, "audrey")["access_token"])
    r = client.get(f"{API}/documents/{doc['id']}", headers=audrey_h)
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "not_found"
    assert client.get(f"{API}/documents?all=true", headers=audrey_h).get_json()["results"] == []
    stella_h = bearer(login(client, "stella")["access_token"])
    assert client.get(f"{API}/documents/{doc['id']}", headers=stella_h).status_code == 200
    r = client.put(share, headers=stella_h)
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "forbidden"
    root_h = bearer(login(client, "root")["access_token"])
    assert client.get(f"{API}/documents/{doc['id']}", headers=root_h).status_code == 200
    assert client.put(share, headers=root_h).status_code == 204  # administrators manage groups
    # the owner's team mate reads it once it is shared with the team, as before
    paul_h = bearer(login(client, "paul")["access_token"])
    team_id = next(g["id"] for g in client.get(f"{API}/groups", headers=paul_h).get_json()["results"]
                   if g["name"] == "Team")
    assert client.put(f"{API}/documents/{doc['id']}/groups/{team_id}", headers=paul_h).status_code == 204
    tess_h = bearer(login(client, "tess")["access_token"])
    assert client.get(f"{API}/documents/{doc['id']}", headers=tess_h).status_code == 200
    # the permission it defines is valid in a custom role, and lifts the rule
    users_of(app).create("rita", role="records")
    rita_h = bearer(login(client, "rita")["access_token"])
    assert client.get(f"{API}/documents/{doc['id']}", headers=rita_h).status_code == 200
