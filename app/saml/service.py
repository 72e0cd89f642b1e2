"""The service provider: the identity provider's metadata (SAML.IdPMetadataURL, read at the
first sign-in and cached, or SAML.IdPMetadataFile, read at start-up), pysaml2's client
configured from the SAML.* settings, and a response turned into an Identity once every
check has passed (checks.py, then pysaml2's signature, time, audience and recipient
checks, then the replay and InResponseTo checks)."""
from __future__ import annotations

import calendar
import datetime
import logging
import os
import threading
import time
from urllib.parse import urlsplit

from ..identity import Identity
from . import checks
from ..identities import IdentityProviderUnavailable, SignInRefused
from .keys import check_keypair, keypair_paths

log = logging.getLogger("keystead")

NAME = "saml"
LOGIN_PATH = "/auth/saml/login"
ACS_PATH = "/auth/saml/acs"
METADATA_PATH = "/auth/saml/metadata"
SLS_PATH = "/auth/saml/sls"
HTTP_TIMEOUT = 10              # seconds, fetching the identity provider's metadata
METADATA_MAX_AGE = 24 * 3600   # the metadata is fetched again after a day
METADATA_RETRY = 10            # seconds after a failed fetch before it is tried again
NAMEID_TRANSIENT = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient"


def xmlsec_binary() -> str | None:
    from saml2.sigver import get_xmlsec_binary
    try:
        return get_xmlsec_binary(["/usr/bin", "/usr/local/bin", "/opt/local/bin"])
    except Exception:  # pysaml2 raises SigverError when it finds none
        return None


def entity_id(settings) -> str:
    return settings["SAML.EntityID"] or settings["Server.PublicURL"].rstrip("/") + METADATA_PATH


def _absolute(settings, path: str) -> str:
    return path if os.path.isabs(path) else os.path.join(settings.instance_path, path)


def settings_problem(settings) -> str | None:
    """What is wrong with the SAML.* settings (one line), or None. Reads the metadata file
    and the configured key pair; never fetches the metadata URL."""
    url, path = settings["SAML.IdPMetadataURL"], settings["SAML.IdPMetadataFile"]
    if url and path:
        return "set one of SAML.IdPMetadataURL and SAML.IdPMetadataFile, not both"
    if not url and not path:
        return (f"set SAML.IdPMetadataURL or SAML.IdPMetadataFile (the identity provider's metadata); "
                f"this service provider's metadata will be at {settings['Server.PublicURL'].rstrip('/')}{METADATA_PATH}")
    if url:
        parts = urlsplit(url)
        if parts.scheme != "https" and not _is_loopback(parts.hostname):
            return f"SAML.IdPMetadataURL = \"{url}\" must be an https:// URL (http:// only on loopback)"
    else:
        try:
            with open(_absolute(settings, path), encoding="utf-8") as f:
                idp_entity(f.read())
        except OSError as e:
            return f"SAML.IdPMetadataFile = \"{path}\": cannot read it: {e.strerror}"
        except (UnicodeDecodeError, IdentityProviderUnavailable) as e:
            return f"SAML.IdPMetadataFile = \"{path}\": {getattr(e, 'reason', 'not UTF-8 text')}"
    cert, key = settings["SAML.CertFile"], settings["SAML.KeyFile"]
    if bool(cert) != bool(key):
        return "set both SAML.CertFile and SAML.KeyFile, or neither (a pair is then generated)"
    if cert:
        problem = check_keypair(_absolute(settings, cert), _absolute(settings, key))
        if problem:
            return f"SAML.CertFile / SAML.KeyFile: {problem}"
    return None


def _is_loopback(host: str | None) -> bool:
    import ipaddress
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host or "").is_loopback
    except ValueError:
        return False


def idp_entity(xml: str) -> str:
    """The entity id of the one identity provider the metadata describes (with a single
    sign-on service on the HTTP-Redirect binding); IdentityProviderUnavailable otherwise."""
    from saml2 import BINDING_HTTP_REDIRECT
    from saml2.mdstore import InMemoryMetaData
    from saml2.attribute_converter import ac_factory
    store = InMemoryMetaData(ac_factory(), None)
    try:
        store.parse(xml)
    except Exception as e:  # pysaml2 raises several kinds for XML that is not metadata
        raise IdentityProviderUnavailable(f"the metadata cannot be read: {type(e).__name__}: {str(e)[:200]}") from None
    idps = [eid for eid, entity in store.items() if "idpsso_descriptor" in entity]
    if len(idps) != 1:
        raise IdentityProviderUnavailable(f"the metadata describes {len(idps)} identity providers, not one")
    if not store.service(idps[0], "idpsso_descriptor", "single_sign_on_service", BINDING_HTTP_REDIRECT):
        raise IdentityProviderUnavailable("the identity provider offers no single sign-on on the HTTP-Redirect binding")
    return idps[0]


class ServiceProvider:
    """One per app (app.extensions["keystead.saml"])."""

    def __init__(self, settings):
        base = settings["Server.PublicURL"].rstrip("/")
        self.settings = settings
        self.entity_id = entity_id(settings)
        self.acs_url = base + ACS_PATH
        self.sls_url = base + SLS_PATH
        self.cert_file, self.key_file = keypair_paths(settings, urlsplit(base).hostname or "keystead")
        self.xmlsec = xmlsec_binary()
        self.want_signed = settings["SAML.WantAssertionsSigned"]
        self.want_encrypted = settings["SAML.WantAssertionsEncrypted"]
        self.clock_skew = settings["SAML.ClockSkew"]
        self.attribute_names = {field: settings[f"SAML.{key}Attribute"] for field, key in
                                (("username", "Username"), ("email", "Email"), ("first_name", "FirstName"),
                                 ("last_name", "LastName"), ("groups", "Groups"))}
        self._lock = threading.Lock()
        self._client = None
        self._client_at = 0.0
        self._failure: tuple[float, str] | None = None
        self.idp_entity_id: str | None = None
        self._sp_metadata = None
        if settings["SAML.IdPMetadataFile"]:
            self.client()  # read now: a bad file refuses start-up, not the first sign-in

    # ---- configuration

    def _config(self, idp_metadata: str | None):
        from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
        from saml2.config import SPConfig
        from saml2.saml import NAMEID_FORMAT_PERSISTENT
        config = SPConfig()
        config.load({
            "entityid": self.entity_id,
            "xmlsec_binary": self.xmlsec,
            "key_file": self.key_file, "cert_file": self.cert_file,
            "encryption_keypairs": [{"key_file": self.key_file, "cert_file": self.cert_file}],
            "metadata": {"inline": [idp_metadata]} if idp_metadata else {},
            "accepted_time_diff": self.clock_skew,
            "allow_unknown_attributes": True,
            "service": {"sp": {
                "endpoints": {"assertion_consumer_service": [(self.acs_url, BINDING_HTTP_POST)],
                              "single_logout_service": [(self.sls_url, BINDING_HTTP_REDIRECT)]},
                # InResponseTo is checked against this browser's own request (checks.check_answers).
                "allow_unsolicited": True,
                "want_response_signed": False,
                "want_assertions_signed": self.want_signed,
                "want_assertions_or_response_signed": True,
                "authn_requests_signed": True,
                "logout_requests_signed": True,
                "name_id_format": [NAMEID_FORMAT_PERSISTENT],
                "name_id_format_allow_create": True,
            }},
        })
        return config

    def metadata_xml(self) -> str:
        """This service provider's metadata (entity id, ACS, SLS, certificate)."""
        if self._sp_metadata is None:
            from saml2.metadata import create_metadata_string
            self._sp_metadata = create_metadata_string(None, config=self._config(None), valid=None).decode()
        return self._sp_metadata

    def _idp_metadata(self) -> str:
        url, path = self.settings["SAML.IdPMetadataURL"], self.settings["SAML.IdPMetadataFile"]
        if path:
            try:
                with open(_absolute(self.settings, path), encoding="utf-8") as f:
                    return f.read()
            except (OSError, UnicodeDecodeError) as e:
                raise IdentityProviderUnavailable(f"cannot read SAML.IdPMetadataFile {path}: {e}") from None
        import requests
        try:
            response = requests.get(url, timeout=HTTP_TIMEOUT)
        except requests.RequestException as e:
            raise IdentityProviderUnavailable(f"cannot fetch the identity provider's metadata from {url}: "
                                              f"{type(e).__name__}") from None
        if response.status_code != 200:
            raise IdentityProviderUnavailable(f"the metadata at {url} answered HTTP {response.status_code}")
        return response.text

    def client(self):
        """pysaml2's Saml2Client for the identity provider, built from its metadata (fetched
        again after METADATA_MAX_AGE; after a failure, not before METADATA_RETRY seconds)."""
        with self._lock:
            if self._client is not None and time.time() - self._client_at < METADATA_MAX_AGE:
                return self._client
            if self._failure is not None and time.time() - self._failure[0] < METADATA_RETRY:
                raise IdentityProviderUnavailable(f"{self._failure[1]} (not tried again for {METADATA_RETRY}s)")
        try:
            xml = self._idp_metadata()
            idp = idp_entity(xml)
            from saml2.client import Saml2Client
            client = Saml2Client(config=self._config(xml))
        except IdentityProviderUnavailable as e:
            with self._lock:
                self._failure = (time.time(), e.reason)
            raise
        with self._lock:
            self._client, self._client_at, self._failure, self.idp_entity_id = client, time.time(), None, idp
        return client

    # ---- sign-in

    def authn_request(self, relay_state: str) -> tuple[str, str]:
        """(request id, URL of the identity provider with a signed AuthnRequest) on the
        HTTP-Redirect binding."""
        from saml2 import BINDING_HTTP_REDIRECT
        from saml2.xmldsig import SIG_RSA_SHA256
        client = self.client()
        request_id, info = client.prepare_for_authenticate(
            entityid=self.idp_entity_id, relay_state=relay_state, binding=BINDING_HTTP_REDIRECT,
            sign=True, sigalg=SIG_RSA_SHA256)
        location = dict(info["headers"])["Location"]
        return request_id, location

    def identity_from(self, saml_response, request_id: str) -> tuple[Identity, dict]:
        """Check a posted SAMLResponse answering `request_id` and return the person it
        vouches for, and what single logout needs (name id, session index)."""
        from saml2 import BINDING_HTTP_POST
        client = self.client()
        xml, root = checks.decode_response(saml_response)
        checks.check_shape(root, self.acs_url, self.want_encrypted)
        try:
            response = client.parse_authn_request_response(saml_response, BINDING_HTTP_POST)
        except Exception as e:  # pysaml2 says what failed through many exception classes
            raise SignInRefused(f"pysaml2 refused the response: {type(e).__name__}: {str(e)[:300]}") from None
        if response is None or response.assertion is None:
            raise SignInRefused("pysaml2 refused the response (see its log line above: a wrong destination, "
                                "an unknown issuer or an unreadable document)")
        assertion = response.assertion
        if self.want_signed and not assertion.signature:
            raise SignInRefused("the assertion is not signed, and SAML.WantAssertionsSigned is true")
        issuer = assertion.issuer.text if assertion.issuer is not None else None
        if issuer != self.idp_entity_id:
            raise SignInRefused(f"the assertion was issued by {issuer!r}, not the identity provider "
                                f"{self.idp_entity_id!r}")
        checks.check_recipient(response, self.acs_url)
        checks.remember_assertion(issuer, assertion.id, self._expiry(assertion))
        checks.check_answers(response, request_id)
        return self._identity(response), self._logout_info(response)

    def _expiry(self, assertion) -> datetime.datetime:
        """When the assertion stops being accepted: its latest NotOnOrAfter plus the clock
        skew. A bearer assertion without one is refused (the Web SSO profile requires it)."""
        from saml2.time_util import str_to_time
        limits = [c.subject_confirmation_data.not_on_or_after for c in assertion.subject.subject_confirmation
                  if c.subject_confirmation_data is not None and c.subject_confirmation_data.not_on_or_after]
        if assertion.conditions is not None and assertion.conditions.not_on_or_after:
            limits.append(assertion.conditions.not_on_or_after)
        if not limits:
            raise SignInRefused("the assertion has no NotOnOrAfter: it would never expire")
        latest = max(calendar.timegm(str_to_time(v)) for v in limits) + self.clock_skew
        return datetime.datetime.fromtimestamp(latest, datetime.timezone.utc).replace(tzinfo=None)

    def attributes(self, response) -> dict[str, list[str]]:
        """Each attribute's values by its Name, its FriendlyName and pysaml2's friendly name."""
        found: dict[str, list[str]] = {}
        for statement in response.assertion.attribute_statement:
            for attribute in statement.attribute:
                values = [v.text.strip() for v in attribute.attribute_value if isinstance(v.text, str)]
                for name in (attribute.name, attribute.friendly_name):
                    if name:
                        found.setdefault(name, values)
        for name, values in (response.ava or {}).items():
            found.setdefault(name, [v for v in values if isinstance(v, str)])
        return found

    def _identity(self, response) -> Identity:
        found = self.attributes(response)

        def first(field):
            values = found.get(self.attribute_names[field]) or []
            return values[0] if values and values[0] else None

        name_id = response.assertion.subject.name_id
        subject = None
        if name_id is not None and name_id.text and name_id.format != NAMEID_TRANSIENT:
            subject = name_id.text.strip()
        subject = subject or first("username")  # a transient NameID changes at every login
        if not subject or len(subject) > 255:
            raise SignInRefused("the assertion has neither a lasting NameID nor the username attribute "
                                f"{self.attribute_names['username']!r}")
        groups = found.get(self.attribute_names["groups"])
        return Identity(provider=NAME, subject=subject, username=first("username") or first("email") or subject,
                        email=first("email"), first_name=first("first_name"), last_name=first("last_name"),
                        groups=list(groups) if groups is not None else None,
                        extra={"issuer": self.idp_entity_id})

    def _logout_info(self, response) -> dict:
        name_id = response.assertion.subject.name_id
        statements = response.assertion.authn_statement
        return {"name_id": name_id.to_string().decode() if name_id is not None else None,
                "session_index": statements[0].session_index if statements else None}
