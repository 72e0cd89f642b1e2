"""docs/deployment.md as printed: its nginx configuration passes `nginx -t` where Debian's
nginx would include it, passes the port the client asked for, clears every identity header
in each location that reaches Keystead, and the guide says how to restore a backup step by
step. (tests/test_trust_header_provider.py and tests/test_https_browser.py run the same
blocks in front of a real Keystead.)"""
from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess

import pytest

from https_support import DOCUMENTED_CERTIFICATE_DIR, NGINX, deployment_doc, documented_certificate

SITE_FILE = "/etc/nginx/sites-available/keystead"
IDENTITY_HEADERS = ("X-Forwarded-User", "X-Forwarded-Email", "X-Forwarded-Groups", "Remote-User",
                    "Remote-Email", "Remote-Name", "Remote-Groups", "X-Keystead-Proxy-Secret")


def nginx_blocks() -> list[str]:
    return re.findall(r"```nginx\n(.*?)```", deployment_doc(), re.S)


def server_blocks() -> list[str]:
    return [b for b in nginx_blocks() if "server {" in b]


def log_format_block() -> str:
    return next(b for b in nginx_blocks() if "log_format keystead" in b)


def locations_reaching_keystead(block: str) -> list[str]:
    """Each `location { ... }` of a server block that proxies to Keystead (port 8000)."""
    return [m for m in re.findall(r"location [^{]*\{.*?\n    \}", block, re.S)
            if "proxy_pass http://127.0.0.1:8000;" in m]


def nginx_t(tmp_path, site: str) -> subprocess.CompletedProcess:
    """`nginx -t` on a main file laid out as Debian's: an `events` block, and in `http` the
    conf.d file (the documented log format) and the site. The only change to the printed
    text is where the certificate and the logs are (a self-signed pair in the doc's names)."""
    certificate_dir = documented_certificate(tmp_path / "tls")
    logs = tmp_path / "log"
    logs.mkdir()
    (tmp_path / "conf.d").mkdir()
    (tmp_path / "sites-enabled").mkdir()
    (tmp_path / "conf.d" / "keystead-log.conf").write_text(log_format_block())
    access = re.search(r"`(access_log /var/log/nginx/keystead\.access\.log keystead;)`", deployment_doc())
    assert access, "docs/deployment.md no longer says which access_log line to add"
    assert site.count("listen 443 ssl;") == 1
    site = site.replace("listen 443 ssl;", "listen 443 ssl;\n    " + access.group(1))
    site = site.replace(DOCUMENTED_CERTIFICATE_DIR, certificate_dir).replace("/var/log/nginx/", f"{logs}/")
    (tmp_path / "sites-enabled" / "keystead").write_text(site)
    user = "user root;\n" if os.geteuid() == 0 else ""
    conf = tmp_path / "nginx.conf"
    conf.write_text(f"{user}pid {tmp_path}/nginx.pid;\nerror_log {logs}/error.log;\nevents {{}}\n"
                    f"http {{\n    include {tmp_path}/conf.d/*.conf;\n    include {tmp_path}/sites-enabled/*;\n}}\n")
    return subprocess.run([NGINX, "-t", "-p", str(tmp_path), "-e", f"{logs}/error.log", "-c", str(conf)],
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("which", [0, 1], ids=["reverse-proxy", "sign-on-proxy"])
def test_the_printed_nginx_configuration_passes_nginx_t(tmp_path, which):
    """Issue 13 item 17: each documented server configuration, certificate lines included,
    as the site file the guide names, with the documented log format and access_log line."""
    if not os.path.exists(NGINX):
        pytest.skip(f"nginx is not installed at {NGINX}")
    doc = deployment_doc()
    assert SITE_FILE in doc and "nginx -t" in doc
    blocks = server_blocks()
    assert len(blocks) == 2
    for line in ("ssl_certificate     " + DOCUMENTED_CERTIFICATE_DIR + "fullchain.pem;",
                 "ssl_certificate_key " + DOCUMENTED_CERTIFICATE_DIR + "privkey.pem;"):
        assert line in blocks[which], f"the printed block has no certificate line {line!r}"
    result = nginx_t(tmp_path, blocks[which])
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


def test_every_location_reaching_keystead_passes_the_port_and_clears_identity_headers():
    """Issue 13 item 17: `Host $http_host` (or `$host:$server_port`) keeps a non-default
    port; each location sets or clears every identity header itself (nginx does not inherit
    proxy_set_header into a location that has its own)."""
    checked = 0
    for block in server_blocks():
        for location in locations_reaching_keystead(block):
            checked += 1
            host = re.search(r"proxy_set_header Host (\S+);", location)
            assert host and host.group(1) in ("$http_host", "$host:$server_port"), location
            forwarded_host = re.search(r"proxy_set_header X-Forwarded-Host (\S+);", location)
            assert forwarded_host and forwarded_host.group(1) == host.group(1), location
            for header in IDENTITY_HEADERS:
                assert re.search(rf"proxy_set_header {re.escape(header)} \S", location), (header, location)
            if "$sso_user" not in location:  # the plain proxy passes no identity at all
                for header in IDENTITY_HEADERS:
                    assert f'proxy_set_header {header} "";' in location, (header, location)
    assert checked == 3


RESTORE_STEPS = (
    ("stop", r"systemctl stop keystead"),
    ("move the restored file over keystead.db", r"mv \S+ /srv/keystead/keystead\.db(?:\s|`)"),
    ("remove stale -wal/-shm", r"rm -f /srv/keystead/keystead\.db-wal /srv/keystead/keystead\.db-shm"),
    ("start", r"systemctl start keystead"),
    ("check", r"keystead doctor"),
)


def restore_section() -> str:
    match = re.search(r"### Restoring a backup\n(.*?)(?=\n## )", deployment_doc(), re.S)
    assert match, "docs/deployment.md has no section 'Restoring a backup'"
    return match.group(1)


def test_the_guide_says_how_to_restore_a_backup_step_by_step():
    """Issue 13 item 17: numbered steps in this order: stop, move the restored file over
    keystead.db, remove stale -wal/-shm, start, `keystead doctor`."""
    section = restore_section()
    steps = re.findall(r"^\d+\. (.*?)(?=^\d+\. |\Z)", section, re.S | re.M)
    assert len(steps) >= len(RESTORE_STEPS), section
    where = []
    for name, pattern in RESTORE_STEPS:
        found = [i for i, step in enumerate(steps) if re.search(pattern, step)]
        assert found, f"no step says how to {name}"
        where.append(found[0])
    assert where == sorted(where), f"steps out of order: {dict(zip([n for n, _ in RESTORE_STEPS], where))}"


def test_the_documented_restore_commands_bring_back_the_backup_not_the_stale_wal(tmp_path):
    """Issue 13 item 17: the printed commands (mv, cp, rm) run on a real SQLite database in
    WAL mode whose -wal file holds a row the backup has not: after them, the database is the
    backup's, and the row of the old -wal is not replayed into it."""
    section = restore_section()
    instance, backups = tmp_path / "srv" / "keystead", tmp_path / "backups"
    instance.mkdir(parents=True)
    backups.mkdir()
    live = instance / "keystead.db"
    db = sqlite3.connect(live)
    db.execute("PRAGMA journal_mode=wal")
    db.execute("PRAGMA wal_autocheckpoint=0")
    db.execute("CREATE TABLE person (name TEXT)")
    db.execute("INSERT INTO person VALUES ('in the backup')")
    db.commit()
    db.execute("VACUUM INTO ?", (str(backups / "keystead-2026-01-31.db"),))
    db.execute("INSERT INTO person VALUES ('after the backup')")
    db.commit()
    # The server "stopped" without a checkpoint: copy the files as a crash leaves them.
    for suffix in ("", "-wal", "-shm"):
        shutil.copy(f"{live}{suffix}", f"{live}.crashed{suffix}")
    db.close()
    for suffix in ("", "-wal", "-shm"):
        os.replace(f"{live}.crashed{suffix}", f"{live}{suffix}")
    assert os.path.exists(f"{live}-wal")

    commands = re.findall(r"`((?:mv|cp|rm) [^`]+)`", section)
    assert commands, section
    for command in commands:
        command = command.replace("/srv/keystead", str(instance)).replace("/backups", str(backups))
        subprocess.run(["sh", "-ec", command], check=True, timeout=30)
    check = sqlite3.connect(live)
    assert [r[0] for r in check.execute("SELECT name FROM person")] == ["in the backup"]
    assert check.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    check.close()
