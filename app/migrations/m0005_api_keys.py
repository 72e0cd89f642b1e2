"""Personal API keys."""
from ..apikeys import ApiKey


def apply(db, migrator):
    db.create_tables([ApiKey], safe=True)
