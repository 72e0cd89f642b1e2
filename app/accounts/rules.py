"""Account rules: usernames, email addresses, names and new passwords, checked
by plain functions that the browser, the API and the CLI all call."""
from __future__ import annotations

import unicodedata

from email_validator import EmailNotValidError, validate_email
from flask import current_app

from .. import passwords
from ..models import User
from ..plugins import hook

USERNAME_MIN, USERNAME_MAX = 3, 64
NAME_MAX = 100
RESERVED_USERNAMES = frozenset("""connect apps users groups setpassword user-completion confirm
recent reports plots unpublished settings metrics tokens help login welcome register
resetpassword content""".split())


def settings():
    return current_app.extensions["keystead.settings"]


# ---------------------------------------------------------------- rules

def normalise(text: str) -> str:
    """The form names are compared in: Unicode NFKC, then case-folded."""
    return unicodedata.normalize("NFKC", text).casefold()


def keyed_names(names) -> dict[str, str]:
    """{normalised key: the name as given, stripped} of the text among `names`, in order,
    each key once (the first spelling wins)."""
    keys: dict[str, str] = {}
    for name in names or ():
        if isinstance(name, str) and name.strip():
            keys.setdefault(normalise(name.strip()), name.strip())
    return keys


def username_problem(username) -> str | None:
    """Why `username` is not a valid username, or None."""
    if not isinstance(username, str) or not username:
        return "Enter a username."
    name = unicodedata.normalize("NFKC", username)
    if not USERNAME_MIN <= len(name) <= USERNAME_MAX:
        return f"Use {USERNAME_MIN} to {USERNAME_MAX} characters."
    if len(name.casefold()) > USERNAME_MAX:
        # The compared form must fit the unique column (PostgreSQL refuses a longer one).
        return (f"Use {USERNAME_MIN} to {USERNAME_MAX} characters; some letters count as more "
                "than one (ß as ss).")
    if not name[0].isalpha():
        return "Start with a letter."
    if not all(c.isalpha() or c.isdigit() or c in "_." for c in name):
        return "Use only letters, digits, '_' and '.'."
    if name.casefold() in RESERVED_USERNAMES:
        return "This username is reserved."
    return None


def clean_email(email) -> str:
    """The normalised address, or ValueError with the reason."""
    if not isinstance(email, str) or not email.strip():
        raise ValueError("Enter an email address.")
    if len(email) > 320:
        raise ValueError("This email address is too long.")
    try:
        clean = validate_email(email.strip(), check_deliverability=False).normalized
    except EmailNotValidError as e:
        raise ValueError(f"Enter a valid email address ({e}).") from None
    if len(normalise(clean)) > 320:  # the compared form must fit its unique column
        raise ValueError("This email address is too long.")
    return clean


def name_problem(value) -> str | None:
    if not isinstance(value, str):
        return "Enter text."
    if len(value) > NAME_MAX:
        return f"Use at most {NAME_MAX} characters."
    if any(unicodedata.category(c) == "Cc" for c in value):
        return "Control characters are not allowed."
    return None


def new_password_problem(password, *, username="", email="", first_name="", last_name="") -> str | None:
    """Why `password` cannot be set, by the configured rules and any plugin's, or None."""
    s = settings()
    user_inputs = [username or "", email or "", first_name or "", last_name or ""]
    if email and "@" in email:
        user_inputs.append(email.split("@", 1)[0])
    problem = passwords.password_problem(
        password, minimum_length=s["Password.MinimumLength"], minimum_score=s["Password.MinimumScore"],
        reject_common=s["Password.RejectCommon"], user_inputs=user_inputs)
    if problem:
        return problem
    for message in hook().keystead_validate_password(password=password, user_inputs=user_inputs):
        if message:
            return message
    return None


def hash_new_password(password: str) -> str:
    return passwords.hash_password(password, settings()["Password.BcryptRounds"])


def check_user_password(user: User | None, password: str) -> bool:
    """Constant-cost check: an unknown user or one without a password still costs a bcrypt."""
    return passwords.check_password(password, user.password_hash if user else None,
                                    settings()["Password.BcryptRounds"])
