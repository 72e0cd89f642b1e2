"""The JSON Schema of the custom fields, made from the declaration (for openapi.json)."""
from __future__ import annotations

from .declarations import UserField
from .values import METADATA_MAX_BYTES, URL_MAX

_WHO = {"self": "the person and those who may read people",
        "admin": "only those who may read people",
        "everyone": "every signed-in person"}


def field_schema(field: UserField) -> dict:
    """One field's schema: its type, format or options, and who sets and sees it."""
    if field.type == "bool":
        schema: dict = {"type": ["boolean", "null"]}
    else:
        schema = {"type": ["string", "null"]}
    if field.type == "text":
        schema["maxLength"] = field.max_length
    elif field.type == "email":
        schema["format"] = "email"
    elif field.type == "url":
        schema.update(format="uri", maxLength=URL_MAX, pattern="^https?://")
    elif field.type == "date":
        schema["format"] = "date"
    elif field.type == "choice":
        schema["enum"] = [*field.options, None]
    editors = "the person or an administrator" if field.editable_by == "self" else "an administrator"
    schema["title"] = field.label
    schema["description"] = (f"{field.label} ({field.type}{', required' if field.required else ''}"
                             f"{', asked at sign-up' if field.at_signup else ''}). Set by {editors}; "
                             f"seen by {_WHO[field.visible_to]}.")
    return schema


def fields_schema(fields) -> dict:
    """The `fields` object: one property per declared field; no others are accepted."""
    return {
        "type": "object",
        "description": "Custom profile fields (Profile.Fields and plugins), by name; null clears "
                       "one. Fields the caller may not see are left out of answers.",
        "properties": {f.name: field_schema(f) for f in fields},
        "additionalProperties": False,
    }


METADATA_SCHEMA = {
    "type": "object",
    "description": f"Free-form JSON object for programs, at most {METADATA_MAX_BYTES} bytes as "
                   "compact JSON; replaced as a whole. Shown to the person and to those who may "
                   "read people.",
    "additionalProperties": True,
}
