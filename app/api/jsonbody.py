"""Reading JSON request bodies: JSON only (415), parseable (400), at most 1 MB (413), and
fields of the right type (422 with a field map). Unknown fields are ignored, consistently:
that is how mass assignment stays impossible (role, locked... in a sign-up are dropped)."""
from __future__ import annotations

import json

from flask import request

from ..errors import ServiceError, ValidationFailed

MAX_JSON_BYTES = 1024 * 1024
MAX_STRING = 10_000
MAX_LIST = 1000


class BodyError(ServiceError):
    """A body that is not JSON (415), does not parse (400) or is too large (413)."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message, code=code)
        self.status = status


def json_body(required: bool = True) -> dict:
    """The request's JSON object. An empty body counts as {} when not `required`."""
    length = request.content_length
    if length is not None and length > MAX_JSON_BYTES:
        raise BodyError(413, "payload_too_large", "The JSON body is larger than 1 MB.")
    raw = request.get_data(cache=True)
    if not raw and not required:
        return {}
    mimetype = request.mimetype or ""
    if mimetype != "application/json" and not mimetype.endswith("+json"):
        raise BodyError(415, "unsupported_media_type", "Send the body as application/json.")
    if len(raw) > MAX_JSON_BYTES:
        raise BodyError(413, "payload_too_large", "The JSON body is larger than 1 MB.")
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):  # RecursionError: [[[[... nested deep
        raise BodyError(400, "invalid_json", "The body is not valid JSON (UTF-8).") from None
    if not isinstance(data, dict):
        raise BodyError(400, "invalid_json", "The JSON body must be an object.")
    return data


def fields(data: dict, *, required: tuple[str, ...] = (), optional: tuple[str, ...] = (),
           booleans: tuple[str, ...] = (), string_lists: tuple[str, ...] = (),
           objects: tuple[str, ...] = ()) -> dict:
    """Pick the named string fields (and `booleans`, `string_lists`: lists of strings, and
    JSON objects named in `objects`) from `data`, refusing missing required ones, wrong
    types, NUL characters and oversized strings with one 422 field map. An object's keys
    and string values, at any depth, are held to the same text rules (no NUL, no lone
    surrogate); its size is its reader's business (app/userfields)."""
    problems: dict[str, str] = {}
    out: dict = {}
    for name in required + optional:
        value = data.get(name)
        if value is None:
            if name in required:
                problems[name] = "This field is required."
            continue
        if not isinstance(value, str):
            problems[name] = "Must be a string."
        elif "\x00" in value:
            problems[name] = "Must not contain NUL characters."
        elif len(value) > MAX_STRING:
            problems[name] = f"Must be at most {MAX_STRING} characters."
        elif not _encodable(value):
            # JSON may spell lone surrogates ("\ud800"); no database or reply can hold them.
            problems[name] = "Must be valid Unicode text."
        else:
            out[name] = value
    for name in booleans:
        if name in data and data[name] is not None:
            if not isinstance(data[name], bool):
                problems[name] = "Must be true or false."
            else:
                out[name] = data[name]
    for name in string_lists:
        value = data.get(name)
        if value is None:
            continue
        if not isinstance(value, list) or len(value) > MAX_LIST:
            problems[name] = f"Must be a list of at most {MAX_LIST} strings."
        elif problem := next((_string_problem(v) for v in value if _string_problem(v)), None):
            problems[name] = f"Each item: {problem[0].lower()}{problem[1:]}"
        else:
            out[name] = value
    for name in objects:
        if name in data and data[name] is not None:
            if not isinstance(data[name], dict):
                problems[name] = "Must be a JSON object."
            elif problem := _object_text_problem(data[name], name):
                problems[problem[0]] = problem[1]
            else:
                out[name] = data[name]
    if problems:
        raise ValidationFailed(problems)
    return out


def _string_problem(value) -> str | None:
    if not isinstance(value, str):
        return "Must be a string."
    if "\x00" in value:
        return "Must not contain NUL characters."
    if len(value) > MAX_STRING:
        return f"Must be at most {MAX_STRING} characters."
    if not _encodable(value):
        return "Must be valid Unicode text."


def _object_text_problem(value, path: str) -> tuple[str, str] | None:
    """(where, what) for the first key or string inside `value` that no database or reply
    can hold: a NUL character or a lone surrogate (PostgreSQL's jsonb refuses both)."""
    stack = [(value, path)]
    while stack:  # iterative: json_body already bounds the depth Python's parser accepts
        item, where = stack.pop()
        if isinstance(item, dict):
            for key, inner in item.items():
                if "\x00" in key or not _encodable(key):
                    return where, "Keys must be valid Unicode text without NUL characters."
                stack.append((inner, f"{where}.{key}" if where.count(".") < 1 else where))
        elif isinstance(item, list):
            stack.extend((inner, where) for inner in item)
        elif isinstance(item, str) and ("\x00" in item or not _encodable(item)):
            return where, "Must be valid Unicode text without NUL characters."
    return None


def _encodable(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
