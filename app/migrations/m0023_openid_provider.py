"""The OpenID Provider's signing keys, authorization codes, issued tokens and consents
(app/openid_provider/models.py)."""
from ..openid_provider.models import MODELS


def apply(db, migrator):
    db.create_tables(MODELS, safe=True)
