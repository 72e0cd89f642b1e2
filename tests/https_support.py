"""Keystead over https for browser tests: a self-signed certificate made by the test, and
Debian's nginx configured as docs/deployment.md says (its nginx blocks, on loopback ports
and the test's certificate), started from the test under a prefix of its own.

Only 127.0.0.1 is contacted; every start and stop is bounded in time.
"""
from __future__ import annotations

import datetime
import ipaddress
import os
import re
import signal
import socket
import subprocess
import time

from servers import ROOT

NGINX = "/usr/sbin/nginx"
START_TIMEOUT = 30


def make_certificate(directory) -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1 and localhost: (certificate file, key file)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = os.path.join(directory, "cert.pem"), os.path.join(directory, "key.pem")
    with open(cert_path, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(key_path, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    return cert_path, key_path


# ---------------------------------------------------------------- docs/deployment.md's nginx

# Where the documented server blocks read their certificate (certbot's paths for the
# example name): tests put a self-signed pair under these names elsewhere and replace it.
DOCUMENTED_CERTIFICATE_DIR = "/etc/letsencrypt/live/auth.example.com/"


def documented_certificate(directory) -> str:
    """A self-signed pair named as the doc names them (fullchain.pem, privkey.pem) in
    `directory`: the replacement of DOCUMENTED_CERTIFICATE_DIR, with its trailing slash."""
    os.makedirs(directory, exist_ok=True)
    cert, key = make_certificate(directory)
    os.replace(cert, os.path.join(directory, "fullchain.pem"))
    os.replace(key, os.path.join(directory, "privkey.pem"))
    return os.path.join(str(directory), "")

def deployment_doc() -> str:
    with open(os.path.join(ROOT, "docs", "deployment.md"), encoding="utf-8") as f:
        return f.read()


def _replace(text: str, old: str, new: str) -> str:
    """Each adapted text must be in the doc: the test follows the doc and fails loudly when
    they drift apart."""
    assert old in text, f"docs/deployment.md's nginx configuration no longer has {old!r}"
    return text.replace(old, new, 1)


def documented_nginx_config(port: int, redirect_port: int, upstream_port: int, cert: str, key: str,
                            access_log: str) -> str:
    """The `http`-block part of the documented nginx configuration: the log format without
    link tokens and the reverse proxy's server blocks, as printed in docs/deployment.md but
    on loopback ports, with the test's certificate and log file."""
    doc = deployment_doc()
    blocks = re.findall(r"```nginx\n(.*?)```", doc, re.S)
    proxy = next(b for b in blocks if "proxy_pass http://127.0.0.1:8000;" in b)
    log_format = next(b for b in blocks if "log_format keystead" in b)
    access = re.search(r"`(access_log /var/log/nginx/keystead\.access\.log keystead;)`", doc)
    assert access, "docs/deployment.md no longer says which access_log line to add"
    proxy = _replace(proxy, "listen 443 ssl;", f"listen 127.0.0.1:{port} ssl;\n    "
                     + access.group(1).replace("/var/log/nginx/keystead.access.log", access_log))
    proxy = _replace(proxy, DOCUMENTED_CERTIFICATE_DIR + "fullchain.pem", cert)
    proxy = _replace(proxy, DOCUMENTED_CERTIFICATE_DIR + "privkey.pem", key)
    proxy = _replace(proxy, "proxy_pass http://127.0.0.1:8000;", f"proxy_pass http://127.0.0.1:{upstream_port};")
    proxy = _replace(proxy, "listen 80;", f"listen 127.0.0.1:{redirect_port};")
    return log_format + "\n" + proxy


class Nginx:
    """/usr/sbin/nginx in the foreground with an `http` block, under its own prefix."""

    def __init__(self, prefix, http_block: str, port: int):
        self.prefix, self.port = str(prefix), port
        os.makedirs(self.prefix, exist_ok=True)
        temp = "\n".join(f"    {kind}_temp_path {self.prefix}/{kind};"
                         for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        user = "user root;\n" if os.geteuid() == 0 else ""
        self.conf = os.path.join(self.prefix, "nginx.conf")
        self.error_log = os.path.join(self.prefix, "error.log")
        with open(self.conf, "w") as f:
            f.write(f"{user}daemon off;\nworker_processes 1;\npid {self.prefix}/nginx.pid;\n"
                    f"error_log {self.error_log};\nevents {{ worker_connections 64; }}\n"
                    f"http {{\n    access_log off;\n{temp}\n{http_block}\n}}\n")
        self.proc: subprocess.Popen | None = None

    def start(self) -> "Nginx":
        self.proc = subprocess.Popen([NGINX, "-p", self.prefix, "-c", self.conf], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True)
        end = time.monotonic() + START_TIMEOUT
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise AssertionError(f"nginx exited with {self.proc.returncode}:\n{self.errors()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise AssertionError(f"nginx did not listen on {self.port} within {START_TIMEOUT}s:\n{self.errors()}")

    def stop(self) -> None:
        """Fast shutdown (SIGTERM to the master); SIGKILL to its group if it lingers."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=15)

    def errors(self) -> str:
        try:
            with open(self.error_log, encoding="utf-8", errors="replace") as f:
                return f.read()[-3000:]
        except OSError:
            return ""
