"""Invitations by email (app/signup/invitations.py)."""
from ..signup.invitations import Invitation


def apply(db, migrator):
    db.create_tables([Invitation], safe=True)
