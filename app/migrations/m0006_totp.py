"""Two-factor authentication: TOTP set-ups and recovery codes."""
from ..totp import RecoveryCode, TotpSetup


def apply(db, migrator):
    db.create_tables([TotpSetup, RecoveryCode], safe=True)
