"""Checking a password against the host's own accounts through PAM (python-pam), for the
`pam` provider (providers/pam.py): which accounts may log in, their names and groups.
"""
from __future__ import annotations

import grp
import logging
import pwd
import re

from ..identity import Identity

log = logging.getLogger("keystead")

# What Debian's useradd accepts (NAME_REGEX), plus a machine account's trailing $.
UNIX_USERNAME = re.compile(r"^[a-z_][a-z0-9_.-]{0,31}\$?$")
# Asked instead of a refused account, so refusing costs what a wrong password costs.
NO_SUCH_ACCOUNT = "keystead-no-such-account"


class UnixAccounts:
    """The PAM.* settings, and the work of one login."""

    def __init__(self, settings, provider: str = "pam"):
        self.provider = provider
        self.service = settings["PAM.Service"]
        self.minimum_uid = settings["PAM.MinimumUID"]
        self.groups_from = settings["PAM.GroupsFrom"]

    def authenticate(self, username, password) -> Identity | None:
        """The Identity of the Unix account whose username and password these are, or None:
        root, accounts below PAM.MinimumUID, unknown names and wrong passwords alike."""
        if not isinstance(username, str) or not isinstance(password, str) or not password:
            return None
        account = self.account(username)
        if not self._pam_accepts(account.pw_name if account else NO_SUCH_ACCOUNT, password):
            return None
        if account is None:  # never: a name that cannot exist was asked
            return None
        return self._identity(account)

    def account(self, username: str):
        """The passwd entry of an account that may log in here, or None."""
        if "\x00" in username or not UNIX_USERNAME.match(username):
            return None
        try:
            account = pwd.getpwnam(username)
        except KeyError:
            return None
        if account.pw_uid == 0 or account.pw_uid < self.minimum_uid:
            return None
        return account

    def _pam_accepts(self, username: str, password: str) -> bool:
        import pam
        if "\x00" in password:
            return False
        # One authenticator per call: python-pam's are not safe to share between threads.
        authenticator = pam.PamAuthenticator()
        # pam_authenticate, then pam_acct_mgmt (an expired or locked account fails there);
        # no credentials are set: this is a check, not a session.
        accepted = authenticator.authenticate(username, password, service=self.service, resetcreds=False)
        if not accepted and authenticator.code not in (pam.PAM_AUTH_ERR, pam.PAM_USER_UNKNOWN,
                                                      pam.PAM_PERM_DENIED, pam.PAM_ACCT_EXPIRED,
                                                      pam.PAM_NEW_AUTHTOK_REQD, pam.PAM_MAXTRIES):
            log.warning("PAM service %s refused a login with %s (%s)", self.service,
                        authenticator.reason, authenticator.code)
        return bool(accepted)

    def _identity(self, account) -> Identity:
        full_name = (account.pw_gecos or "").split(",", 1)[0].strip()
        first, _, last = full_name.partition(" ")
        groups = self._groups(account) if self.groups_from == "unix" else None
        return Identity(provider=self.provider, subject=account.pw_name, username=account.pw_name,
                        email=None, first_name=first or None, last_name=last.strip() or None,
                        groups=groups, extra={"uid": account.pw_uid})

    @staticmethod
    def _groups(account) -> list[str]:
        """The names of the account's primary group and of every group that lists it."""
        import os
        names = set()
        for gid in os.getgrouplist(account.pw_name, account.pw_gid):
            try:
                names.add(grp.getgrgid(gid).gr_name)
            except KeyError:  # a gid without a name
                continue
        return sorted(names)
