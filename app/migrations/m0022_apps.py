"""Apps, their forward-auth hosts and who may use them (app/apps/models.py)."""
from ..apps.models import MODELS


def apply(db, migrator):
    db.create_tables(MODELS, safe=True)
