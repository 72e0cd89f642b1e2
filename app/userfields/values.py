"""The rules for custom field values and `metadata`, one set for the web forms, the API and
the CLI: what each type accepts, who may set which field, who sees which, and how large
metadata may be. Problems are reported under `fields.<name>` (or `metadata`)."""
from __future__ import annotations

import re
from datetime import date
from urllib.parse import urlsplit

from email_validator import EmailNotValidError, validate_email

from ..authorization import has_permission
from ..errors import ValidationFailed
from ..request_text import text_problem
from .declarations import UserField, declared_fields
from .jsoncolumn import dump_object

METADATA_MAX_BYTES = 16 * 1024
URL_MAX = 2000
EMAIL_MAX = 320
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TRUE, _FALSE = ("true", "yes", "on", "1"), ("false", "no", "off", "0")


def key(name: str) -> str:
    """The name a problem with field `name` is reported under."""
    return f"fields.{name}"


# ---------------------------------------------------------------- one value

def clean_value(field: UserField, value):
    """The stored form of `value` for `field` (None clears it); ValueError says what is wrong."""
    if value is None or value == "":
        return None
    if field.type == "bool":
        if not isinstance(value, bool):
            raise ValueError("Must be true or false.")
        return value
    if not isinstance(value, str):
        raise ValueError("Must be a string.")
    if text_problem(value):
        raise ValueError("Must be valid Unicode text without NUL characters.")
    value = value.strip()
    if field.type == "text":
        if len(value) > field.max_length:
            raise ValueError(f"Must be at most {field.max_length} characters.")
        return value or None
    if field.type == "email":
        if len(value) > EMAIL_MAX:
            raise ValueError(f"Must be at most {EMAIL_MAX} characters.")
        try:
            return validate_email(value, check_deliverability=False).normalized
        except EmailNotValidError:
            raise ValueError("Enter an email address such as name@example.com.") from None
    if field.type == "url":
        parts = urlsplit(value)
        if (len(value) > URL_MAX or parts.scheme not in ("http", "https") or not parts.hostname
                or any(c.isspace() or ord(c) < 32 for c in value)):
            raise ValueError(f"Enter an http:// or https:// address of at most {URL_MAX} characters.")
        return value
    if field.type == "choice":
        if value not in field.options:
            raise ValueError("Choose one of " + ", ".join(field.options) + ".")
        return value
    if field.type == "date":
        try:
            if not _DATE.match(value):
                raise ValueError
            return date.fromisoformat(value).isoformat()
        except ValueError:
            raise ValueError("Enter a date as YYYY-MM-DD, such as 2024-05-31.") from None
    raise ValueError("Unknown field type.")  # declarations allow no other type


def parse_text(field: UserField, text: str | None):
    """A value typed in a form or a CSV cell as the API would send it (a bool from
    true/false, yes/no, on/off, 1/0; empty: no value)."""
    if text is None:
        return None
    if field.type != "bool":
        return text
    low = text.strip().lower()
    if low == "":
        return None
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    return text  # clean_value refuses it with the message


def as_text(value) -> str:
    """A stored value as a form or a CSV cell shows it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# ---------------------------------------------------------------- who sets, who sees

def _manages(actor) -> bool:
    """The command line (no actor) and holders of people.manage set every field."""
    return actor is None or has_permission(actor, "people.manage")


def checked_changes(actor, target, submitted: dict, *, signup: bool = False) -> dict:
    """The person's whole `fields` after `submitted` ({name: value}, None clears) is applied
    by `actor` (None: the command line). At sign-up only fields shown at sign-up may be sent
    and the required ones must be. A person sets only fields editable by `self` and
    cannot clear a required one; holders of people.manage set any. ValidationFailed names
    every bad field as `fields.<name>`."""
    by_name = {f.name: f for f in declared_fields()}
    current = dict(getattr(target, "fields", None) or {}) if target is not None else {}
    manages = not signup and _manages(actor)
    problems: dict[str, str] = {}
    for name, value in submitted.items():
        field = by_name.get(name)
        if field is None:
            problems[key(name)] = ("No such field; the declared ones are "
                                   + (", ".join(by_name) or "none") + ".")
            continue
        if signup and not field.at_signup:
            problems[key(name)] = "This field is not set at sign-up."
            continue
        if not signup and not manages and field.editable_by != "self":
            problems[key(name)] = "Only an administrator can change this field."
            continue
        try:
            clean = clean_value(field, value)
        except ValueError as e:
            problems[key(name)] = str(e)
            continue
        if clean is None and field.required and not manages:
            problems[key(name)] = "This field is required."
            continue
        current[name] = clean
    if signup:
        for field in by_name.values():
            if field.at_signup and field.required and current.get(field.name) is None \
                    and key(field.name) not in problems:
                problems[key(field.name)] = "This field is required."
    if problems:
        raise ValidationFailed(problems)
    return {name: value for name, value in current.items() if value is not None}


def visible_fields(viewer, target) -> dict:
    """The declared fields of `target` that `viewer` may see, by name (None for unset): all
    of them for holders of people.read and the command line (None); a person's own `self`
    and `everyone` fields; only `everyone` fields of someone else."""
    stored = getattr(target, "fields", None) or {}
    if viewer is None or has_permission(viewer, "people.read"):
        audiences = ("self", "admin", "everyone")
    elif viewer.id == target.id:
        audiences = ("self", "everyone")
    else:
        audiences = ("everyone",)
    return {f.name: stored.get(f.name) for f in declared_fields() if f.visible_to in audiences}


def editable_fields(actor, target) -> list[UserField]:
    """The fields `actor` may change on `target`'s page."""
    manages = _manages(actor)
    return [f for f in declared_fields() if manages or (actor.id == target.id and f.editable_by == "self")]


def signup_fields() -> list[UserField]:
    return [f for f in declared_fields() if f.at_signup]


# ---------------------------------------------------------------- metadata

def may_edit_metadata(actor, target) -> bool:
    """The person themselves, holders of people.manage and the command line (None)."""
    return actor is None or actor.id == target.id or has_permission(actor, "people.manage")


def checked_metadata(value) -> dict:
    """`value` if it is a JSON object of at most 16 KB (compact JSON, UTF-8)."""
    if not isinstance(value, dict):
        raise ValidationFailed({"metadata": "Must be a JSON object."})
    size = len(dump_object(value).encode("utf-8"))
    if size > METADATA_MAX_BYTES:
        raise ValidationFailed({"metadata": f"Must be at most {METADATA_MAX_BYTES} bytes as "
                                            f"compact JSON; this is {size}."})
    return value
