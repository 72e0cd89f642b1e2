"""The first schema: people, groups, memberships, tokens, links, throttles, identities."""
from ..models import (ExternalIdentity, Group, LoginThrottle, Membership, OneTimeLink, Token,
                      User)


def apply(db, migrator):
    db.create_tables([User, Group, Membership, Token, OneTimeLink, LoginThrottle,
                      ExternalIdentity], safe=True)
