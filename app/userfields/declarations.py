"""The declaration of custom profile fields: `[[Profile.Fields]]` tables in keystead.toml
(or KEYSTEAD_PROFILE_FIELDS) and the lists plugins return from `keystead_user_fields()`,
checked in full at start-up. A bad declaration refuses start-up with one line naming the
field, the key and what is allowed."""
from __future__ import annotations

import re
from dataclasses import dataclass

from ..config import ConfigError

TYPES = ("text", "email", "url", "choice", "bool", "date")
EDITORS = ("self", "admin")
AUDIENCES = ("self", "admin", "everyone")
KEYS = ("name", "label", "type", "required", "options", "editable_by", "visible_to", "at_signup",
        "max_length")
NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
TEXT_MAX_DEFAULT, TEXT_MAX_LIMIT = 500, 10_000
LABEL_MAX, OPTION_MAX, OPTIONS_MAX = 100, 200, 200

#: Keys of the user object, its JSON bodies and its CSV columns: no field may take one.
RESERVED_NAMES = frozenset({
    "id", "username", "email", "first_name", "last_name", "role", "locked", "email_verified",
    "created_at", "last_login_at", "groups", "provider", "fields", "metadata", "permissions",
    "status", "password", "current_password", "new_password", "confirmation_url",
    "confirmation_sent", "verification_email_sent", "accept_terms", "invitation", "name",
    "uniquifier", "session_epoch", "password_hash",
})


@dataclass(frozen=True)
class UserField:
    """One declared profile field. `source` says where it was declared (for messages)."""
    name: str
    label: str
    type: str
    required: bool = False
    options: tuple[str, ...] = ()
    editable_by: str = "self"
    visible_to: str = "self"
    at_signup: bool = False
    max_length: int = TEXT_MAX_DEFAULT
    source: str = "Profile.Fields"


class _Refused(ValueError):
    """(key, value, allowed) of a declaration's bad key."""


def _allowed_one_of(key: str, value, options) -> str:
    if value not in options:
        raise _Refused(key, value, "one of " + ", ".join(options))
    return value


def _flag(table: dict, key: str) -> bool:
    value = table.get(key, False)
    if not isinstance(value, bool):
        raise _Refused(key, value, "true or false")
    return value


def _field(table, source: str) -> UserField:
    if not isinstance(table, dict):
        raise _Refused("", table, "a table with name, label and type")
    unknown = sorted(k for k in table if k not in KEYS)
    if unknown:
        raise _Refused(unknown[0], table[unknown[0]], "only the keys " + ", ".join(KEYS))
    name = table.get("name")
    if not isinstance(name, str) or not NAME.match(name):
        raise _Refused("name", name, "lower-case letters, digits and _, starting with a letter, "
                       "at most 40 characters")
    if name in RESERVED_NAMES:
        raise _Refused("name", name, "a name that is not a key of the user object ("
                       + ", ".join(sorted(RESERVED_NAMES)) + ")")
    label = table.get("label", name.replace("_", " ").capitalize())
    if not isinstance(label, str) or not label.strip() or len(label) > LABEL_MAX or "\x00" in label:
        raise _Refused("label", label, f"a non-empty string of at most {LABEL_MAX} characters")
    kind = _allowed_one_of("type", table.get("type"), TYPES)
    options = table.get("options")
    if kind == "choice":
        if (not isinstance(options, list) or not options or len(options) > OPTIONS_MAX
                or not all(isinstance(o, str) and o.strip() and len(o) <= OPTION_MAX and "\x00" not in o
                           for o in options)
                or len(set(options)) != len(options)):
            raise _Refused("options", options, f"a list of 1 to {OPTIONS_MAX} different non-empty "
                           'strings, such as ["red", "green"] (needed by type = "choice")')
    elif options is not None:
        raise _Refused("options", options, 'nothing: options belong to type = "choice" only')
    max_length = table.get("max_length", TEXT_MAX_DEFAULT)
    if "max_length" in table and kind != "text":
        raise _Refused("max_length", max_length, 'nothing: max_length belongs to type = "text" only')
    if isinstance(max_length, bool) or not isinstance(max_length, int) or not 1 <= max_length <= TEXT_MAX_LIMIT:
        raise _Refused("max_length", max_length, f"a whole number from 1 to {TEXT_MAX_LIMIT}")
    return UserField(
        name=name, label=label.strip(), type=kind, required=_flag(table, "required"),
        options=tuple(options or ()),
        editable_by=_allowed_one_of("editable_by", table.get("editable_by", "self"), EDITORS),
        visible_to=_allowed_one_of("visible_to", table.get("visible_to", "self"), AUDIENCES),
        at_signup=_flag(table, "at_signup"), max_length=max_length, source=source)


def _shown(value) -> str:
    return f'"{value}"' if isinstance(value, str) else repr(value)


def parse_fields(tables, source: str = "Profile.Fields") -> list[UserField]:
    """Check every declaration of `source` (the setting, or a plugin's name); ConfigError
    with one line naming the field, the key, the value and what is allowed."""
    if not isinstance(tables, (list, tuple)):
        raise ConfigError(f"invalid {_where(source)}: allowed is a list of field declarations")
    parsed = []
    for position, table in enumerate(tables, 1):
        try:
            parsed.append(_field(table, source))
        except _Refused as e:
            key, value, allowed = e.args
            name = table.get("name") if isinstance(table, dict) else None
            which = f'field "{name}"' if isinstance(name, str) and name else f"field {position}"
            what = f"{key} = {_shown(value)}" if key else _shown(value)
            raise ConfigError(f"invalid {_where(source)}: {which}: {what}: allowed is {allowed}") from None
    return parsed


def _where(source: str) -> str:
    return "setting Profile.Fields" if source == "Profile.Fields" else f"profile field of plugin {source}"


def combine(groups: list[list[UserField]]) -> tuple[UserField, ...]:
    """Every declaration in order (the setting's first, then each plugin's); a name
    declared twice refuses start-up, naming both places."""
    seen: dict[str, UserField] = {}
    for group in groups:
        for field in group:
            if field.name in seen:
                first = seen[field.name]
                raise ConfigError(f'invalid {_where(field.source)}: field "{field.name}" is declared '
                                  f"twice (also by {_where(first.source)}); allowed is one "
                                  "declaration per name")
            seen[field.name] = field
    return tuple(seen.values())


def load_fields(app, pm, settings) -> tuple[UserField, ...]:
    """The declared fields of this app: the setting's, then those plugins return from
    `keystead_user_fields()` (called once, here, within the app context)."""
    groups = [parse_fields(settings["Profile.Fields"])]
    with app.app_context():
        for plugin, declared in _plugin_declarations(pm):
            groups.append(parse_fields(declared or [], source=plugin))
    return combine(groups)


def _plugin_declarations(pm):
    """(plugin name, its list) for every implementation of keystead_user_fields."""
    caller = pm.hook.keystead_user_fields
    for impl in reversed(caller.get_hookimpls()):  # registration order
        name = pm.get_name(impl.plugin) or ""
        if name.isdigit():  # registered without a name (pluggy uses its id): say what it is
            name = getattr(impl.plugin, "__name__", None) or type(impl.plugin).__name__
        yield name, impl.function()


def declared_fields() -> tuple[UserField, ...]:
    """The current app's fields, in declaration order."""
    from flask import current_app
    return current_app.extensions.get("keystead.user_fields", ())


def field_named(name: str) -> UserField | None:
    for field in declared_fields():
        if field.name == name:
            return field
    return None
