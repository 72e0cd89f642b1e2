"""A real OpenLDAP server (Debian's slapd) for the LDAP provider's tests.

    from ldap_server import slapd  # noqa: F401  (the module-scoped pytest fixture)

`slapd` starts /usr/sbin/slapd on a free loopback port with a temporary slapd.conf and an
mdb database, the memberof overlay (memberOf kept on people and groups) and the ppolicy
overlay (an account with pwdAccountLockedTime is refused at bind), and a certificate
signed by a CA the test makes (StartTLS, and ldaps:// on a second port). It loads a small directory:

    dc=example,dc=org
      ou=people      alice (email, in Engineers), bob (no email, in Operators), locked (ppolicy-locked)
                     "Pat (contractor)" (a DN with parentheses; in Engineers)
      ou=staff       carol (a second OU; in Admins, which is nested in Engineers)
      ou=groups      Engineers (alice, Pat, the group Admins), Admins (carol), Operators (bob)
      ou=service     keystead (the service account the tests bind as)

Skips with the reason when slapd is not installed.
"""
from __future__ import annotations

import datetime
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field

import pytest

SLAPD = "/usr/sbin/slapd"
LDAPADD = shutil.which("ldapadd") or "/usr/bin/ldapadd"
MODULE_PATH = "/usr/lib/ldap"
SCHEMA = "/etc/ldap/schema"
BASE = "dc=example,dc=org"
ROOT_DN = f"cn=admin,{BASE}"
ROOT_PASSWORD = "root-secret-of-the-test-directory"
SERVICE_DN = f"cn=keystead,ou=service,{BASE}"
SERVICE_PASSWORD = "service-password-of-keystead-7"
START_TIMEOUT = 20

PASSWORDS = {
    "alice": "alice-directory-password-1",
    "bob": "bob-directory-password-2",
    "carol": "carol-directory-password-3",
    "locked": "locked-directory-password-4",
    "pat": "pat-directory-password-5",
}


@dataclass
class Slapd:
    port: int
    ldaps_port: int
    ca_file: str
    folder: str
    proc: subprocess.Popen
    log_path: str
    passwords: dict = field(default_factory=lambda: dict(PASSWORDS))

    @property
    def uri(self) -> str:
        return f"ldap://127.0.0.1:{self.port}"

    @property
    def ldaps_uri(self) -> str:
        """LDAP over TLS from the first byte (ldaps://), by the certificate's name."""
        return f"ldaps://localhost:{self.ldaps_port}"

    @property
    def tls_uri(self) -> str:
        """The same server by the name its certificate carries."""
        return f"ldap://localhost:{self.port}"

    def settings(self, **more) -> dict:
        """Keystead settings for this directory (plain LDAP, the service bind, memberOf)."""
        return {"Authentication.Provider": ["password", "ldap"],
                "LDAP.ServerURI": self.uri, "LDAP.BindDN": SERVICE_DN,
                "LDAP.BindPassword": SERVICE_PASSWORD, "LDAP.UserSearchBase": BASE,
                "LDAP.UserFilter": "(&(objectClass=inetOrgPerson)(uid={username}))",
                "LDAP.GroupSearchBase": f"ou=groups,{BASE}", **more}

    def log_tail(self, n: int = 30) -> str:
        with open(self.log_path, "rb") as f:
            return "\n".join(f.read().decode("utf-8", "replace").splitlines()[-n:])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_ca_and_server_certificate(folder: str) -> tuple[str, str, str]:
    """(CA certificate, server certificate, server key) files: a self-signed CA and a
    certificate it signs for the name localhost only (so 127.0.0.1 is a wrong host name)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Keystead test directory CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=2))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False,
                                       data_encipherment=False, key_agreement=False,
                                       encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = tuple(os.path.join(folder, name) for name in ("ca.pem", "server.pem", "server.key"))
    with open(paths[0], "wb") as f:
        f.write(ca.public_bytes(serialization.Encoding.PEM))
    with open(paths[1], "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(paths[2], "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    os.chmod(paths[2], 0o600)
    return paths


def slapd_conf(folder: str, ca: str, cert: str, key: str) -> str:
    return f"""
include {SCHEMA}/core.schema
include {SCHEMA}/cosine.schema
include {SCHEMA}/inetorgperson.schema
include {SCHEMA}/nis.schema
modulepath {MODULE_PATH}
moduleload back_mdb
moduleload memberof
moduleload ppolicy
pidfile {folder}/slapd.pid
TLSCACertificateFile {ca}
TLSCertificateFile {cert}
TLSCertificateKeyFile {key}

database mdb
maxsize 104857600
suffix "{BASE}"
rootdn "{ROOT_DN}"
rootpw {ROOT_PASSWORD}
directory {folder}/db
index objectClass eq
index uid eq
index member eq
overlay memberof
memberof-refint TRUE
overlay ppolicy
ppolicy_default "cn=default,ou=policies,{BASE}"
access to attrs=userPassword by anonymous auth by self write by * none
access to * by dn.exact="{SERVICE_DN}" read by self read by * none
"""


def _entry(dn: str, *lines: str) -> str:
    return "\n".join([f"dn: {dn}", *lines]) + "\n"


def _person(uid: str, ou: str, given: str, sn: str, mail: str | None = None, cn: str | None = None,
            rdn: str | None = None) -> str:
    lines = ["objectClass: inetOrgPerson", f"uid: {uid}", f"cn: {cn or given + ' ' + sn}",
             f"givenName: {given}", f"sn: {sn}", f"userPassword: {PASSWORDS[uid]}"]
    if mail:
        lines.append(f"mail: {mail}")
    return _entry(f"{rdn or 'uid=' + uid},ou={ou},{BASE}", *lines)


def directory_ldif() -> str:
    pat_dn = f"cn=Pat (contractor),ou=people,{BASE}"
    entries = [
        _entry(BASE, "objectClass: dcObject", "objectClass: organization", "dc: example", "o: Example"),
        *(_entry(f"ou={ou},{BASE}", "objectClass: organizationalUnit", f"ou: {ou}")
          for ou in ("people", "staff", "groups", "service", "policies")),
        _entry(f"cn=default,ou=policies,{BASE}", "objectClass: pwdPolicy", "objectClass: device",
               "cn: default", "pwdAttribute: userPassword", "pwdLockout: TRUE", "pwdMaxFailure: 0"),
        _entry(SERVICE_DN, "objectClass: simpleSecurityObject", "objectClass: organizationalRole",
               "cn: keystead", f"userPassword: {SERVICE_PASSWORD}"),
        _person("alice", "people", "Alice", "Archer", "alice@example.org"),
        _person("bob", "people", "Bob", "Baker"),  # no email
        _person("locked", "people", "Lou", "Locked", "locked@example.org"),
        _person("pat", "people", "Pat", "Parker", "pat@example.org", cn="Pat (contractor)",
                rdn="cn=Pat (contractor)"),
        _person("carol", "staff", "Carol", "Cooper", "carol@example.org"),
        _entry(f"cn=Admins,ou=groups,{BASE}", "objectClass: groupOfNames", "cn: Admins",
               f"member: uid=carol,ou=staff,{BASE}"),
        _entry(f"cn=Engineers,ou=groups,{BASE}", "objectClass: groupOfNames", "cn: Engineers",
               f"member: uid=alice,ou=people,{BASE}", f"member: {pat_dn}",
               f"member: cn=Admins,ou=groups,{BASE}"),
        _entry(f"cn=Operators,ou=groups,{BASE}", "objectClass: groupOfNames", "cn: Operators",
               f"member: uid=bob,ou=people,{BASE}"),
    ]
    return "\n".join(entries)


LOCK_LDIF = f"""dn: uid=locked,ou=people,{BASE}
changetype: modify
add: pwdAccountLockedTime
pwdAccountLockedTime: 000001010000Z
"""


def _ldap(tool: str, uri: str, ldif: str) -> None:
    r = subprocess.run([tool, "-x", "-H", uri, "-D", ROOT_DN, "-w", ROOT_PASSWORD],
                       input=ldif.encode(), capture_output=True, timeout=30)
    if r.returncode != 0:
        raise AssertionError(f"{tool} failed ({r.returncode}): {r.stderr.decode(errors='replace')}")


def start_slapd(folder: str) -> Slapd:
    os.makedirs(os.path.join(folder, "db"))
    ca, cert, key = make_ca_and_server_certificate(folder)
    conf = os.path.join(folder, "slapd.conf")
    with open(conf, "w") as f:
        f.write(slapd_conf(folder, ca, cert, key))
    port, ldaps_port = free_port(), free_port()
    log_path = os.path.join(folder, "slapd.log")
    log = open(log_path, "wb")
    # -d: stay in the foreground and log there (stats: every bind and search).
    proc = subprocess.Popen([SLAPD, "-f", conf, "-h", f"ldap://127.0.0.1:{port}/ ldaps://127.0.0.1:{ldaps_port}/",
                             "-d", "stats"], stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    log.close()
    server = Slapd(port=port, ldaps_port=ldaps_port, ca_file=ca, folder=folder, proc=proc, log_path=log_path)
    end = time.monotonic() + START_TIMEOUT
    while True:
        if proc.poll() is not None:
            raise AssertionError(f"slapd exited with {proc.returncode}:\n{server.log_tail()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if time.monotonic() > end:
                stop_slapd(server)
                raise AssertionError(f"slapd did not listen within {START_TIMEOUT}s:\n{server.log_tail()}")
            time.sleep(0.05)
    _ldap(LDAPADD, server.uri, directory_ldif())
    _ldap(shutil.which("ldapmodify") or "/usr/bin/ldapmodify", server.uri, LOCK_LDIF)
    return server


def stop_slapd(server: Slapd) -> None:
    if server.proc.poll() is None:
        os.killpg(server.proc.pid, signal.SIGTERM)
        try:
            server.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.proc.pid, signal.SIGKILL)
            server.proc.wait(timeout=15)


@pytest.fixture(scope="module")
def slapd(tmp_path_factory):
    if not os.path.exists(SLAPD):
        pytest.skip(f"slapd is not installed at {SLAPD} (apt-get install slapd ldap-utils)")
    server = start_slapd(str(tmp_path_factory.mktemp("slapd")))
    try:
        yield server
    finally:
        stop_slapd(server)
