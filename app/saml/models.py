"""Assertion ids already used, so a captured response cannot sign anyone in twice; in the
database, so every host of a deployment sees them (migration 0027)."""
from __future__ import annotations

from peewee import CharField, DateTimeField

from ..models import BaseModel


class SamlSeenAssertion(BaseModel):
    """One assertion that signed someone in, kept until it expires (its own NotOnOrAfter
    plus SAML.ClockSkew); after that the identity provider's time checks refuse it anyway."""
    key = CharField(max_length=64, unique=True)  # SHA-256 (hex) of the issuer and the assertion ID
    expires_at = DateTimeField(index=True)


MODELS = [SamlSeenAssertion]
