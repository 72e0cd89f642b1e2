"""The groups of a directory person, for group sync at each login (app/identities.py
sync_groups, the same path OpenID Connect's groups take).

Two ways, as LDAP.* says:
- LDAP.GroupMembershipAttribute (`memberOf`): the group DNs listed on the person's entry;
- else LDAP.GroupSearchBase with LDAP.GroupFilter (`(member={dn})`): the groups found there.
Neither set: no group sync (the person's memberships are left alone).

With LDAP.NestedGroups, the groups of those groups count too. Active Directory answers
that in one search with its transitive matching rule (LDAP_MATCHING_RULE_IN_CHAIN,
1.2.840.113556.1.4.1941); other directories (OpenLDAP) do not know the rule, so Keystead
walks up the groups itself, at most MAX_DEPTH levels and MAX_GROUPS groups.
"""
from __future__ import annotations

import logging
import re

log = logging.getLogger("keystead")

IN_CHAIN = "1.2.840.113556.1.4.1941"           # Active Directory's transitive matching rule
ACTIVE_DIRECTORY_CAPABILITY = "1.2.840.113556.1.4.800"  # in the root DSE's supportedCapabilities
MAX_DEPTH = 10
MAX_GROUPS = 500


class GroupReader:
    def __init__(self, settings, operation_timeout: int):
        self.membership_attribute = settings["LDAP.GroupMembershipAttribute"]
        self.search_base = settings["LDAP.GroupSearchBase"]
        self.group_filter = settings["LDAP.GroupFilter"]
        self.name_attribute = settings["LDAP.GroupNameAttribute"]
        self.nested = settings["LDAP.NestedGroups"]
        self.timeout = operation_timeout
        # The attribute of a group that lists its members by DN: from GroupFilter's
        # "(member={dn})", else `member`.
        m = re.search(r"\(([A-Za-z][A-Za-z0-9-]*)=\{dn\}\)", self.group_filter)
        self.member_attribute = m.group(1) if m else "member"
        self._active_directory: bool | None = None  # learnt from the root DSE once

    @property
    def enabled(self) -> bool:
        return bool(self.membership_attribute or self.search_base)

    def of(self, conn, person, username: str) -> list[str] | None:
        """The names of `person`'s groups (None: group sync is off)."""
        if self.membership_attribute:
            dns = _texts(attribute_values(person.attributes, self.membership_attribute))
            if self.nested:
                dns = self._walk_up_by_membership(conn, dns)
            return self._names(conn, dns)
        if not self.search_base:
            return None
        if self.nested and self._is_active_directory(conn):
            found = self._search(conn, f"({self.member_attribute}:{IN_CHAIN}:={_escape(person.dn)})")
            return sorted(set(found.values()))
        found = self._search(conn, self._filter(person.dn, username))
        if self.nested:
            found = self._walk_up_by_search(conn, found)
        return sorted(set(found.values()))

    # ---- searches

    def _filter(self, dn: str, username: str) -> str:
        return self.group_filter.replace("{dn}", _escape(dn)).replace("{username}", _escape(username))

    def _search(self, conn, search_filter: str) -> dict[str, str]:
        """{group DN: name} of the groups under GroupSearchBase that `search_filter` finds."""
        from ldap3 import SUBTREE
        conn.search(self.search_base, search_filter, search_scope=SUBTREE,
                    attributes=[self.name_attribute], size_limit=MAX_GROUPS, time_limit=self.timeout)
        _raise_unless_found(conn, "the group search")
        found = {}
        for entry in conn.response or []:
            if entry.get("type") == "searchResEntry":
                name = attribute_text(entry.get("raw_attributes") or {}, self.name_attribute)
                if name:
                    found[entry["dn"]] = name
        return found

    def _read(self, conn, dn: str, attributes: list[str]) -> dict | None:
        """The raw attributes of the entry `dn`, or None when it is not there (or not readable)."""
        from ldap3 import BASE
        conn.search(dn, "(objectClass=*)", search_scope=BASE, attributes=attributes,
                    time_limit=self.timeout)
        _raise_unless_found(conn, f"reading {dn}")
        for entry in conn.response or []:
            if entry.get("type") == "searchResEntry":
                return entry.get("raw_attributes") or {}
        return None

    def _names(self, conn, dns: list[str]) -> list[str]:
        names = set()
        for dn in dns[:MAX_GROUPS]:
            attrs = self._read(conn, dn, [self.name_attribute])
            name = attribute_text(attrs or {}, self.name_attribute)
            if name:
                names.add(name)
        return sorted(names)

    def _is_active_directory(self, conn) -> bool:
        if self._active_directory is None:
            root = self._read(conn, "", ["supportedCapabilities"]) or {}
            self._active_directory = ACTIVE_DIRECTORY_CAPABILITY in _texts(
                attribute_values(root, "supportedCapabilities"))
            if not self._active_directory:
                log.info("LDAP: the directory is not Active Directory; nested groups are found by "
                         "walking up the groups (at most %d levels)", MAX_DEPTH)
        return self._active_directory

    # ---- nested groups, level by level

    def _walk_up_by_search(self, conn, found: dict[str, str]) -> dict[str, str]:
        """`found` and every group that holds one of them, level by level."""
        frontier = list(found)
        for _ in range(MAX_DEPTH):
            if not frontier or len(found) >= MAX_GROUPS:
                break
            members = "".join(f"({self.member_attribute}={_escape(dn)})" for dn in frontier[:100])
            parents = self._search(conn, f"(|{members})")
            frontier = [dn for dn in parents if dn not in found] + frontier[100:]
            found.update(parents)
        return found

    def _walk_up_by_membership(self, conn, dns: list[str]) -> list[str]:
        """`dns` and the groups their entries' membership attribute lists, level by level."""
        seen = {_key(dn): dn for dn in dns}
        frontier = list(dns)
        for _ in range(MAX_DEPTH):
            if not frontier or len(seen) >= MAX_GROUPS:
                break
            next_frontier = []
            for dn in frontier:
                attrs = self._read(conn, dn, [self.membership_attribute]) or {}
                for parent in _texts(attribute_values(attrs, self.membership_attribute)):
                    if _key(parent) not in seen:
                        seen[_key(parent)] = parent
                        next_frontier.append(parent)
            frontier = next_frontier
        return list(seen.values())


def _escape(value: str) -> str:
    """A value (a DN read from the directory, a username) made safe inside a filter (RFC 4515)."""
    from ldap3.utils.conv import escape_filter_chars
    return escape_filter_chars(value)


def _raise_unless_found(conn, what: str) -> None:
    code = (conn.result or {}).get("result")
    if code not in (0, 4, 32, 50):  # success, size limit, no such object, insufficient access
        from ldap3.core.exceptions import LDAPException
        raise LDAPException(f"{what} failed: {(conn.result or {}).get('description')} ({code})")


def attribute_values(attributes: dict, name: str) -> list:
    """An attribute's values whatever the case of its name."""
    for key, values in attributes.items():
        if key.lower() == name.lower():
            return values or []
    return []


def _texts(values) -> list[str]:
    out = []
    for value in values:
        if isinstance(value, bytes):
            try:
                value = value.decode("utf-8")
            except UnicodeDecodeError:
                continue
        if value.strip():
            out.append(value.strip())
    return out


def attribute_text(attributes: dict, name: str) -> str | None:
    """An attribute's first value as text, or None."""
    texts = _texts(attribute_values(attributes, name))
    return texts[0] if texts else None


def _key(dn: str) -> str:
    return re.sub(r"\s*,\s*", ",", dn.lower())
