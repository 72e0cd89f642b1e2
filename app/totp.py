"""Two-factor authentication with TOTP (pyotp): set-up with a QR code and one
code to confirm, ten single-use recovery codes stored hashed, no code accepted twice.

A code counts as used once its 30-second step has been accepted (the row keeps the last
accepted step and only a later one passes: an atomic compare-and-set, so two racing logins
cannot both use one code).

Secrets at rest: the TOTP secret is stored encrypted with a key derived from
Server.SecretKey (app/encryption.py), so a copy of the database alone cannot make codes.
Secrets an older release stored in clear are encrypted at start-up (`seal_clear_secrets`,
called by the app factory after the migrations: a migration has no key) and, should one
still be met, at its first use. Recovery codes carry 120 random bits, each stored as an
HMAC-SHA256 under its own random salt. Codes made by older releases (40 bits, unsalted
SHA-256) cannot be converted without the codes themselves: they keep working until used
or replaced, are never made again, and the person is told to replace them.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time

import pyotp
from flask import current_app
from peewee import CharField, DateTimeField, ForeignKeyField, IntegerField

from .encryption import PREFIX as SEALED_PREFIX
from .encryption import CannotDecrypt, SecretBox, is_sealed
from .errors import Conflict, ValidationFailed
from .models import BaseModel, User, database, utcnow
from .plugins import hook

ISSUER = "Keystead"
RECOVERY_CODES = 10
# 24 characters of base32 (5 bits each): 120 bits, shown in groups of four.
RECOVERY_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"
RECOVERY_LENGTH = 24
RECOVERY_GROUP = 4
VALID_WINDOW = 1  # accept the previous and next 30-second step too (clock drift)
SECRET_PURPOSE = b"keystead totp secret"  # the HKDF info of the key that encrypts secrets

log = logging.getLogger("keystead")


class TotpSetup(BaseModel):
    user = ForeignKeyField(User, backref="totp", unique=True, on_delete="CASCADE")
    secret = CharField(max_length=255)  # "v1:..." encrypted (app/encryption.py); older rows in clear
    confirmed_at = DateTimeField(null=True)  # None: set-up begun, not confirmed yet
    last_step = IntegerField(default=0)
    created_at = DateTimeField(default=utcnow)


class RecoveryCode(BaseModel):
    user = ForeignKeyField(User, backref="recovery_codes", on_delete="CASCADE")
    digest = CharField(max_length=64, index=True)  # HMAC-SHA256(salt, code); unsalted SHA-256 if no salt
    salt = CharField(max_length=32, null=True)  # hex; None: a 40-bit code from an older release
    used_at = DateTimeField(null=True)


# ---------------------------------------------------------------- the secret at rest

def _box() -> SecretBox:
    """This app's box for TOTP secrets (made once per app)."""
    box = current_app.extensions.get("keystead.totp_box")
    if box is None:
        box = current_app.extensions["keystead.totp_box"] = SecretBox(
            current_app.extensions["keystead.secret_key"], SECRET_PURPOSE)
    return box


def _context(user_id: int) -> str:
    return f"totp:{user_id}"


def _seal(user_id: int, secret: str) -> str:
    return _box().seal(secret, _context(user_id))


def _secret_of(row: TotpSetup) -> str | None:
    """The row's secret in clear, or None when it cannot be decrypted (Server.SecretKey
    changed): its codes are then refused, as wrong ones. A clear secret an older release
    wrote is encrypted now."""
    if not is_sealed(row.secret):
        _seal_row(row.id, row.user_id, row.secret)
        return row.secret
    try:
        return _box().open(row.secret, _context(row.user_id))
    except CannotDecrypt:
        log.warning("the two-factor secret of person id %s cannot be decrypted with the current "
                    "Server.SecretKey (was the key changed?); their authenticator codes are refused "
                    "until an administrator resets their two-factor authentication", row.user_id)
        return None


def _seal_row(row_id: int, user_id: int, clear: str) -> bool:
    """Encrypt one clear secret in place, unless another worker did it first."""
    return bool(TotpSetup.update(secret=_seal(user_id, clear))
                .where((TotpSetup.id == row_id) & (TotpSetup.secret == clear)).execute())


def seal_clear_secrets() -> int:
    """Encrypt every TOTP secret still stored in clear (written by an older release);
    returns how many. Runs at start-up, inside an app context: it needs the app's key."""
    rows = TotpSetup.select(TotpSetup.id, TotpSetup.user, TotpSetup.secret).where(
        ~TotpSetup.secret.startswith(SEALED_PREFIX))
    sealed = sum(_seal_row(r.id, r.user_id, r.secret) for r in rows if not is_sealed(r.secret))
    if sealed:
        log.info("encrypted %d two-factor secret(s) stored in clear by an older release", sealed)
    return sealed


# ---------------------------------------------------------------- recovery codes at rest

def _normalised(code: str) -> str:
    return code.replace("-", "").replace(" ", "").lower()


def _salted_digest(normalised: str, salt: str) -> str:
    return hmac.new(bytes.fromhex(salt), normalised.encode(), hashlib.sha256).hexdigest()


def _legacy_digest(normalised: str) -> str:
    """How older releases stored their 40-bit codes: checked, never written."""
    return hashlib.sha256(normalised.encode()).hexdigest()


def _recovery_code() -> str:
    raw = "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_LENGTH))
    return "-".join(raw[i:i + RECOVERY_GROUP] for i in range(0, RECOVERY_LENGTH, RECOVERY_GROUP))


def totp_enabled(user: User) -> bool:
    return TotpSetup.select().where((TotpSetup.user == user.id) & TotpSetup.confirmed_at.is_null(False)).exists()


def begin_setup(user: User) -> tuple[str, str]:
    """Start (or restart) set-up: a new secret, not active until confirmed. Returns
    (secret, otpauth URL). The caller has checked the password or web sudo."""
    if totp_enabled(user):
        raise Conflict("Two-factor authentication is already on; turn it off first.", code="totp_enabled")
    secret = pyotp.random_base32()
    with database.atomic():
        TotpSetup.delete().where(TotpSetup.user == user.id).execute()
        TotpSetup.create(user=user.id, secret=_seal(user.id, secret))
    return secret, otpauth_url(user, secret)


def otpauth_url(user: User, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name=ISSUER)


def pending_secret(user: User) -> str | None:
    row = TotpSetup.get_or_none((TotpSetup.user == user.id) & TotpSetup.confirmed_at.is_null())
    return _secret_of(row) if row else None


def qr_svg(data: str) -> str:
    """An SVG QR code of `data` (no script, safe to inline)."""
    import qrcode
    import qrcode.image.svg
    image = qrcode.make(data, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    return image.to_string(encoding="unicode")


def _accept_code(row: TotpSetup, code) -> bool:
    """Accept a TOTP code for `row` once: the step must be later than the last accepted."""
    if not isinstance(code, str):
        return False
    code = code.strip().replace(" ", "")
    # ASCII digits only: str.isdigit() also takes other scripts' digits, which no code holds
    # (and which hmac.compare_digest refuses to compare).
    if not (code.isascii() and code.isdigit() and len(code) == 6):
        return False
    secret = _secret_of(row)
    if secret is None:
        return False
    totp = pyotp.TOTP(secret)
    now_step = int(time.time()) // totp.interval
    for step in range(now_step - VALID_WINDOW, now_step + VALID_WINDOW + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            won = (TotpSetup.update(last_step=step)
                   .where((TotpSetup.id == row.id) & (TotpSetup.last_step < step)).execute())
            return bool(won)
    return False


def confirm_setup(user: User, code) -> list[str]:
    """Turn two-factor on with a first code; returns the recovery codes (shown once)."""
    row = TotpSetup.get_or_none((TotpSetup.user == user.id) & TotpSetup.confirmed_at.is_null())
    if row is None:
        raise Conflict("Start the set-up first.", code="totp_not_started")
    with database.atomic():
        if not _accept_code(row, code):
            raise ValidationFailed({"code": "The code is not correct. Check your device's clock and try again."})
        TotpSetup.update(confirmed_at=utcnow()).where(TotpSetup.id == row.id).execute()
        codes = _new_recovery_codes(user)
        hook().keystead_event(event="totp_enable", actor=user, target=user, outcome="success", details={})
    return codes


def _new_recovery_codes(user: User) -> list[str]:
    RecoveryCode.delete().where(RecoveryCode.user == user.id).execute()
    codes, rows = [], []
    for _ in range(RECOVERY_CODES):
        code, salt = _recovery_code(), secrets.token_hex(16)
        codes.append(code)
        rows.append({"user": user.id, "salt": salt, "digest": _salted_digest(_normalised(code), salt)})
    RecoveryCode.insert_many(rows).execute()
    return codes


def check_second_factor(user: User, code) -> bool:
    """True for a fresh TOTP code or an unused recovery code (spent by this call)."""
    row = TotpSetup.get_or_none((TotpSetup.user == user.id) & TotpSetup.confirmed_at.is_null(False))
    if row is None or not isinstance(code, str) or not code.strip() or len(code) > 64:
        return False
    if _accept_code(row, code):
        return True
    return _spend_recovery_code(user, code)


def _spend_recovery_code(user: User, code: str) -> bool:
    """Mark the person's unused recovery code `code` used; False when there is none. Every
    unused code is compared (constant time each); the update is a compare-and-set, so two
    racing logins cannot both spend one code."""
    normalised = _normalised(code)
    match = None
    for row in RecoveryCode.select(RecoveryCode.id, RecoveryCode.digest, RecoveryCode.salt).where(
            (RecoveryCode.user == user.id) & RecoveryCode.used_at.is_null()):
        expected = _legacy_digest(normalised) if row.salt is None else _salted_digest(normalised, row.salt)
        if hmac.compare_digest(row.digest, expected) and match is None:
            match = row.id
    if match is None:
        return False
    return bool(RecoveryCode.update(used_at=utcnow())
                .where((RecoveryCode.id == match) & RecoveryCode.used_at.is_null()).execute())


def disable(user: User, code, actor: User | None = None) -> None:
    """Turn two-factor off with a current code (the caller checked password / web sudo)."""
    if not totp_enabled(user):
        raise Conflict("Two-factor authentication is not on.", code="totp_not_enabled")
    with database.atomic():
        if not check_second_factor(user, code):
            raise ValidationFailed({"code": "The code is not correct."})
        _remove(user)
        hook().keystead_event(event="totp_disable", actor=actor or user, target=user, outcome="success",
                              details={})


def reset_by_administrator(target: User, actor: User) -> None:
    """An administrator clears a person's two-factor set-up (a lost device)."""
    with database.atomic():
        _remove(target)
        hook().keystead_event(event="totp_reset", actor=actor, target=target, outcome="success", details={})


def _remove(user: User) -> None:
    TotpSetup.delete().where(TotpSetup.user == user.id).execute()
    RecoveryCode.delete().where(RecoveryCode.user == user.id).execute()


def recovery_codes_left(user: User) -> int:
    return RecoveryCode.select().where((RecoveryCode.user == user.id) & RecoveryCode.used_at.is_null()).count()


def has_weak_recovery_codes(user: User) -> bool:
    """True while the person holds unused 40-bit codes from an older release (to replace)."""
    return RecoveryCode.select().where((RecoveryCode.user == user.id) & RecoveryCode.used_at.is_null()
                                       & RecoveryCode.salt.is_null()).exists()
