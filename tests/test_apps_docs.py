"""Issue 15: docs/apps.md's proxy configurations are tested as printed: its nginx server
block passes `nginx -t` and its Caddyfile `caddy validate`."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from https_support import NGINX, Nginx

DOC = Path(__file__).resolve().parent.parent / "docs" / "apps.md"
CADDY = "/usr/bin/caddy"


def block(language: str) -> str:
    found = re.findall(rf"```{language}\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    assert len(found) == 1, f"docs/apps.md should print one {language} block"
    return found[0]


@pytest.mark.skipif(not Path(NGINX).exists(), reason="nginx is not installed")
def test_the_documented_nginx_block_passes_nginx_t(tmp_path):
    nginx = Nginx(tmp_path / "nginx", block("nginx"), 0)
    r = subprocess.run([NGINX, "-t", "-p", nginx.prefix, "-c", nginx.conf], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr + nginx.errors()


@pytest.mark.skipif(not Path(CADDY).exists(), reason="caddy is not installed")
def test_the_documented_caddyfile_passes_caddy_validate(tmp_path):
    caddyfile = tmp_path / "Caddyfile"
    caddyfile.write_text(block("caddyfile"))
    r = subprocess.run([CADDY, "validate", "--config", str(caddyfile), "--adapter", "caddyfile"],
                       capture_output=True, text=True, cwd=tmp_path, env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
                       timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr


def test_the_documented_traefik_configuration_names_the_route_and_the_identity_headers():
    """No Traefik binary here: its dynamic configuration is checked for what Keystead needs
    (parsed as YAML, the forward-auth route, the four identity headers)."""
    yaml = pytest.importorskip("yaml")
    config = yaml.safe_load(block("yaml"))
    forward_auth = config["http"]["middlewares"]["keystead"]["forwardAuth"]
    assert forward_auth["address"].endswith("/api/v1/authz/forward-auth")
    assert forward_auth["authResponseHeaders"] == ["Remote-User", "Remote-Email", "Remote-Name", "Remote-Groups"]
    assert config["http"]["routers"]["grafana"]["middlewares"] == ["keystead"]
