"""Two-factor authentication with TOTP (SPEC 9, pyotp): set-up with a QR code and one
code to confirm, ten single-use recovery codes stored hashed, no code accepted twice.

A code counts as used once its 30-second step has been accepted (the row keeps the last
accepted step and only a later one passes: an atomic compare-and-set, so two racing logins
cannot both use one code).
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
import time

import pyotp
from peewee import CharField, DateTimeField, ForeignKeyField, IntegerField

from .errors import Conflict, ValidationFailed
from .models import BaseModel, User, database, utcnow
from .plugins import hook

ISSUER = "Keystead"
RECOVERY_CODES = 10
VALID_WINDOW = 1  # accept the previous and next 30-second step too (clock drift)


class TotpSetup(BaseModel):
    user = ForeignKeyField(User, backref="totp", unique=True, on_delete="CASCADE")
    secret = CharField(max_length=64)
    confirmed_at = DateTimeField(null=True)  # None: set-up begun, not confirmed yet
    last_step = IntegerField(default=0)
    created_at = DateTimeField(default=utcnow)


class RecoveryCode(BaseModel):
    user = ForeignKeyField(User, backref="recovery_codes", on_delete="CASCADE")
    digest = CharField(max_length=64, index=True)
    used_at = DateTimeField(null=True)


def _digest(code: str) -> str:
    return hashlib.sha256(code.replace("-", "").replace(" ", "").lower().encode()).hexdigest()


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
        TotpSetup.create(user=user.id, secret=secret)
    return secret, otpauth_url(user, secret)


def otpauth_url(user: User, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name=ISSUER)


def pending_secret(user: User) -> str | None:
    row = TotpSetup.get_or_none((TotpSetup.user == user.id) & TotpSetup.confirmed_at.is_null())
    return row.secret if row else None


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
    if not (code.isdigit() and len(code) == 6):
        return False
    totp = pyotp.TOTP(row.secret)
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
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = secrets.token_hex(5)  # 40 bits each, single use
        codes.append(f"{raw[:5]}-{raw[5:]}")
    RecoveryCode.insert_many([{"user": user.id, "digest": _digest(c)} for c in codes]).execute()
    return codes


def check_second_factor(user: User, code) -> bool:
    """True for a fresh TOTP code or an unused recovery code (spent by this call)."""
    row = TotpSetup.get_or_none((TotpSetup.user == user.id) & TotpSetup.confirmed_at.is_null(False))
    if row is None or not isinstance(code, str) or not code.strip() or len(code) > 64:
        return False
    if _accept_code(row, code):
        return True
    spent = (RecoveryCode.update(used_at=utcnow())
             .where((RecoveryCode.user == user.id) & (RecoveryCode.digest == _digest(code))
                    & RecoveryCode.used_at.is_null()).execute())
    return bool(spent)


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
