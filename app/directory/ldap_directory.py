"""Checking a password against an LDAP directory (OpenLDAP, Active Directory...) with ldap3:
the service bind, the search for the person, the bind as the person, and their groups.

One LDAPDirectory per app (providers/ldap.py keeps it in app.extensions). Nothing is kept
open between logins: each login opens a connection for the service bind and search and
one for the person's bind, on the first server of LDAP.ServerURI that answers (the next
one when it cannot be reached). What the person typed only ever reaches the directory
escaped (RFC 4515) inside a filter, and DNs read from the directory are escaped the same
way when a group filter names them; no DN is ever built from input.
"""
from __future__ import annotations

import logging
import re
import secrets
import ssl
import uuid
from dataclasses import dataclass

from ..errors import ProviderUnreachable
from ..identity import Identity
from .ldap_groups import GroupReader, attribute_text, attribute_values

log = logging.getLogger("keystead")

# Result codes of a bind that mean "not this password" (or the account cannot log in:
# locked, disabled, expired), all answered as a wrong password.
INVALID_CREDENTIALS = 49


@dataclass
class Person:
    """A directory entry found by the user search."""
    dn: str
    attributes: dict


class LDAPDirectory:
    """The LDAP.* settings, and the work of one login."""

    def __init__(self, settings, provider: str = "ldap"):
        self.provider = provider
        self.uris = settings["LDAP.ServerURI"] or []
        self.start_tls = settings["LDAP.StartTLS"]
        self.ca_file = settings["LDAP.CAFile"]
        self.bind_dn = settings["LDAP.BindDN"]
        self._bind_password = settings["LDAP.BindPassword"]
        self.user_base = settings["LDAP.UserSearchBase"]
        self.user_filter = settings["LDAP.UserFilter"]
        self.username_attribute = settings["LDAP.UsernameAttribute"]
        self.email_attribute = settings["LDAP.EmailAttribute"]
        self.first_name_attribute = settings["LDAP.FirstNameAttribute"]
        self.last_name_attribute = settings["LDAP.LastNameAttribute"]
        self.timeout = settings["LDAP.Timeout"]
        self.operation_timeout = settings["LDAP.OperationTimeout"]
        self.groups = GroupReader(settings, self.operation_timeout)

    # ---- connections

    def _server(self, uri: str):
        from ldap3 import NONE, Server, Tls
        tls = None
        if uri.lower().startswith("ldaps://") or self.start_tls:
            # Certificates are always checked, the host name included; CAFile adds a private CA.
            tls = Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=self.ca_file)
        return Server(uri, use_ssl=uri.lower().startswith("ldaps://"), tls=tls, get_info=NONE,
                      connect_timeout=self.timeout)

    def _connect(self, server, user: str | None = None, password: str | None = None):
        """An open connection (StartTLS done when configured), not yet bound."""
        from ldap3 import ANONYMOUS, SIMPLE, Connection
        conn = Connection(server, user=user, password=password,
                          authentication=SIMPLE if user else ANONYMOUS,
                          receive_timeout=self.operation_timeout, read_only=True,
                          raise_exceptions=False, auto_referrals=False)
        conn.open()
        if self.start_tls and not server.ssl:
            if not conn.start_tls():
                conn.unbind()
                raise ConnectionError(f"StartTLS refused: {_result(conn)}")
        return conn

    def _service_connection(self):
        """(the service-bound connection, its server): the first server of ServerURI that
        answers; ProviderUnreachable (logged) when none does or the service bind is refused."""
        from ldap3.core.exceptions import LDAPException
        problems = []
        for uri in self.uris:
            server = self._server(uri)  # one per login: ldap3's Server keeps per-connection state
            try:
                conn = self._connect(server, self.bind_dn, self._bind_password)
                if not conn.bind():
                    why = _result(conn)
                    conn.unbind()
                    # A refused service bind is a configuration fault: no one could log in.
                    self._unreachable(f"the service bind as {self.bind_dn or 'anonymous'} was "
                                      f"refused by {server.name}: {why}")
                return conn, server
            except (LDAPException, OSError) as e:
                problems.append(f"{server.name}: {self._scrub(e)}")
        self._unreachable("; ".join(problems) or "LDAP.ServerURI names no server")

    def _unreachable(self, why: str):
        log.warning("LDAP directory unavailable: %s", why)
        raise ProviderUnreachable()

    def _scrub(self, error: Exception) -> str:
        """An exception as one line, without the service password (ldap3 never puts it in
        a message, but a message is never trusted to stay so)."""
        text = f"{type(error).__name__}: {error}".replace("\n", " ")
        if self._bind_password:
            text = text.replace(self._bind_password, "(hidden)")
        return text[:500]

    # ---- the login

    def authenticate(self, username, password) -> Identity | None:
        """The Identity of the person whose username and password these are, or None.
        A bind is attempted whether or not the person exists (as a DN that cannot exist
        when they do not), so both answers cost the same round trips."""
        from ldap3.core.exceptions import LDAPException
        if not isinstance(username, str) or not isinstance(password, str) or not username or not password:
            return None  # an empty password would be an unauthenticated bind, which succeeds
        conn, server = self._service_connection()
        try:
            person = self._find(conn, username)
            if person is None:
                # Same work as a wrong password: a bind with this password, here as nobody.
                self._bind_as(server, f"cn=keystead-no-such-person-{secrets.token_hex(8)},{self.user_base}",
                              password)
                return None
            if not self._bind_as(server, person.dn, password):
                return None
            groups = self.groups.of(conn, person, self._directory_username(person, username))
            return self._identity(person, username, groups)
        except (LDAPException, OSError) as e:
            self._unreachable(f"{server.name}: {self._scrub(e)}")
        finally:
            _close(conn)

    def _find(self, conn, username: str) -> Person | None:
        from ldap3 import SUBTREE
        from ldap3.utils.conv import escape_filter_chars
        search_filter = self.user_filter.replace("{username}", escape_filter_chars(username))
        attributes = [self.username_attribute, self.email_attribute, self.first_name_attribute,
                      self.last_name_attribute, "entryUUID", "objectGUID"]
        if self.groups.membership_attribute:
            attributes.append(self.groups.membership_attribute)
        conn.search(self.user_base, search_filter, search_scope=SUBTREE, attributes=attributes,
                    size_limit=2, time_limit=self.operation_timeout)
        code = conn.result.get("result")
        entries = [r for r in conn.response or [] if r.get("type") == "searchResEntry"]
        if code not in (0, 4, 32):  # success, size limit exceeded, no such object (an empty base)
            from ldap3.core.exceptions import LDAPException
            raise LDAPException(f"the user search failed: {_result(conn)}")
        if len(entries) != 1:
            if len(entries) > 1:
                log.warning("LDAP: the user filter matches several entries for one name; "
                            "nobody is logged in (make LDAP.UserFilter match one person)")
            return None
        entry = entries[0]
        return Person(dn=entry["dn"], attributes=dict(entry.get("raw_attributes") or {}))

    def _bind_as(self, server, dn: str, password: str) -> bool:
        """Whether the directory accepts `password` for `dn` (a locked, disabled or expired
        account is refused by the directory itself)."""
        from ldap3.core.exceptions import LDAPSASLPrepError
        conn = self._connect(server, dn, password)
        try:
            try:
                accepted = conn.bind()
            except LDAPSASLPrepError:  # a password no directory can hold (a control character)
                return False
            if not accepted and conn.result.get("result") != INVALID_CREDENTIALS:
                log.info("LDAP: the bind as %s was refused: %s", dn, _result(conn))
            return bool(accepted)
        finally:
            _close(conn)

    def _directory_username(self, person: Person, typed: str) -> str:
        """The person's name as the directory spells it (for a group filter's {username})."""
        return attribute_text(person.attributes, self.username_attribute) or typed

    def _identity(self, person: Person, typed: str, groups: list[str] | None) -> Identity:
        attrs = person.attributes
        return Identity(provider=self.provider, subject=_subject(person),
                        username=attribute_text(attrs, self.username_attribute) or typed,
                        email=attribute_text(attrs, self.email_attribute),
                        first_name=attribute_text(attrs, self.first_name_attribute),
                        last_name=attribute_text(attrs, self.last_name_attribute),
                        groups=groups, extra={"dn": person.dn})


def _subject(person: Person) -> str:
    """The entry's stable id: OpenLDAP's entryUUID, Active Directory's objectGUID, else its
    DN (which changes when the entry is renamed or moved)."""
    entry_uuid = attribute_text(person.attributes, "entryUUID")
    if entry_uuid:
        return entry_uuid
    guid = (attribute_values(person.attributes, "objectGUID") or [None])[0]
    if isinstance(guid, bytes) and len(guid) == 16:
        return str(uuid.UUID(bytes_le=guid))
    return re.sub(r"\s*,\s*", ",", person.dn.lower())[:255]


def _result(conn) -> str:
    result = conn.result or {}
    return f"{result.get('description')} ({result.get('result')}) {result.get('message') or ''}".strip()


def _close(conn) -> None:
    try:
        conn.unbind()
    except Exception:  # a connection the server already dropped: nothing left to close
        pass
