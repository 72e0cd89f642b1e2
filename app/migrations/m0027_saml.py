"""The SAML assertion ids already used (app/saml/models.py)."""
from ..saml.models import MODELS


def apply(db, migrator):
    db.create_tables(MODELS, safe=True)
