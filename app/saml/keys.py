"""The service provider's signing and decryption key pair: SAML.CertFile and SAML.KeyFile,
or a self-signed pair generated once into the instance folder (the private key 0600)."""
from __future__ import annotations

import datetime
import os

GENERATED_CERT = "saml-sp.crt"
GENERATED_KEY = "saml-sp.key"
CERT_YEARS = 10


def generate_keypair(cert_path: str, key_path: str, common_name: str) -> None:
    """Write a new RSA 3072 key (mode 0600, written so no other user can ever read it) and a
    self-signed certificate for it, valid CERT_YEARS years."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name[:64] or "keystead")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=365 * CERT_YEARS))
            .sign(key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key_pem)
    os.chmod(key_path, 0o600)
    with open(cert_path, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))


def check_keypair(cert_path: str, key_path: str) -> str | None:
    """None when the certificate and key files can be read and belong together, else why not
    (one line, never the key itself)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    try:
        with open(cert_path, "rb") as f:
            cert = x509.load_pem_x509_certificate(f.read())
    except OSError as e:
        return f"cannot read the certificate {cert_path}: {e.strerror}"
    except ValueError:
        return f"{cert_path} is not a PEM certificate"
    try:
        with open(key_path, "rb") as f:
            key = serialization.load_pem_private_key(f.read(), password=None)
    except OSError as e:
        return f"cannot read the private key file: {e.strerror}"
    except (ValueError, TypeError):
        return "the private key file is not an unencrypted PEM private key"
    public = serialization.PublicFormat.SubjectPublicKeyInfo
    if (key.public_key().public_bytes(serialization.Encoding.PEM, public)
            != cert.public_key().public_bytes(serialization.Encoding.PEM, public)):
        return f"the private key does not belong to the certificate {cert_path}"
    return None


def keypair_paths(settings, common_name: str) -> tuple[str, str]:
    """(certificate, key) paths: the configured ones (relative to the instance folder), or
    the generated pair, made now when missing."""
    def absolute(path):
        return path if os.path.isabs(path) else os.path.join(settings.instance_path, path)
    cert, key = settings["SAML.CertFile"], settings["SAML.KeyFile"]
    if cert and key:
        return absolute(cert), absolute(key)
    cert = os.path.join(settings.instance_path, GENERATED_CERT)
    key = os.path.join(settings.instance_path, GENERATED_KEY)
    if not (os.path.exists(cert) and os.path.exists(key)):
        generate_keypair(cert, key, common_name)
    return cert, key
