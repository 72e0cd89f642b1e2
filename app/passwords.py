"""Password rules and hashing (docs/configuration.md, Password.*), shared by the browser, the API and the CLI.

Hashing: the password's UTF-8 bytes are HMAC-SHA256'd and base64-encoded before bcrypt,
so every byte of a password of any length counts (bcrypt alone reads only 72 bytes and
bcrypt 5 refuses more) and no raw input, NUL bytes included, reaches bcrypt.
"""
from __future__ import annotations

import base64
import functools
import hashlib
import hmac

import bcrypt
from zxcvbn import zxcvbn

MAX_LENGTH = 1024
# zxcvbn's cost grows faster than the length; judging a prefix keeps a 1,024-character
# password to milliseconds (PERFORMANCE.md), and 100 characters are plenty to judge.
STRENGTH_PREFIX = 100
_PREHASH_KEY = b"keystead.password.v1"


def _prehash(password: str) -> bytes:
    digest = hmac.new(_PREHASH_KEY, password.encode("utf-8", "surrogatepass"), hashlib.sha256).digest()
    return base64.b64encode(digest)


def hash_password(password: str, rounds: int) -> str:
    """bcrypt hash (at `rounds`) of the pre-hashed password."""
    return bcrypt.hashpw(_prehash(password), bcrypt.gensalt(rounds)).decode("ascii")


def check_password(password: str, hashed: str | None, rounds: int) -> bool:
    """True when `password` matches `hashed`. With no hash (unknown user, no password set)
    a dummy hash of the same cost is checked, so the answer takes the same time."""
    if not isinstance(password, str):
        password = ""
    if not hashed:
        bcrypt.checkpw(_prehash(password), _dummy_hash(rounds))
        return False
    try:
        return bcrypt.checkpw(_prehash(password), hashed.encode("ascii"))
    except ValueError:  # a corrupt stored hash never matches
        return False


@functools.lru_cache(maxsize=16)
def _dummy_hash(rounds: int) -> bytes:
    return bcrypt.hashpw(b"keystead-dummy-password", bcrypt.gensalt(rounds))


def fingerprint(hashed: str | None) -> str:
    """A short digest of a password hash, to bind links to the password they were made under."""
    return hashlib.sha256((hashed or "-").encode()).hexdigest()[:32]


@functools.lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    """The 10,000 most common passwords of zxcvbn's frequency list (lower case)."""
    from zxcvbn.frequency_lists import FREQUENCY_LISTS
    return frozenset(FREQUENCY_LISTS["passwords"][:10000])


def password_problem(password, *, minimum_length: int, minimum_score: int, reject_common: bool,
                     user_inputs: list[str] = ()) -> str | None:
    """Why `password` is refused as a new password, or None when it is acceptable.

    Length counts code points; there are no character-class rules (NIST SP 800-63B).
    """
    if not isinstance(password, str) or password == "":
        return "Enter a password."
    if "\x00" in password:
        return "A password cannot contain the NUL character."
    if len(password) < minimum_length:
        return f"Use at least {minimum_length} characters."
    if len(password) > MAX_LENGTH:
        return f"Use at most {MAX_LENGTH} characters."
    if reject_common and password.lower() in common_passwords():
        return "This password is too common; choose one that is harder to guess."
    if minimum_score > 0:
        inputs = [i for i in user_inputs if i]
        result = zxcvbn(password[:STRENGTH_PREFIX], user_inputs=inputs, max_length=STRENGTH_PREFIX)
        if result["score"] < minimum_score:
            feedback = result.get("feedback") or {}
            hint = feedback.get("warning") or " ".join(feedback.get("suggestions") or [])
            message = "This password is too easy to guess."
            return f"{message} {hint}".strip()
    return None
