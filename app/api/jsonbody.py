"""Reading JSON request bodies: JSON only (415), parseable (400), at most 1 MB (413), and
fields of the right type (422 with a field map). Every endpoint declares, in one call of
`fields()`, every key it accepts; any other key is refused with 422 naming it ("Unknown
field."), never dropped silently. That is also how mass assignment stays impossible: `role`,
`locked` or `email_verified` in a sign-up are refused, not applied (and not ignored)."""
from __future__ import annotations

import json

from flask import request

from ..errors import ServiceError, ValidationFailed
from ..request_text import text_problem

MAX_JSON_BYTES = 1024 * 1024
MAX_STRING = 10_000
MAX_LIST = 1000
UNKNOWN_FIELD = "Unknown field."


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
           objects: tuple[str, ...] = (), unbounded: tuple[str, ...] = ()) -> dict:
    """Pick the named string fields (and `booleans`, `string_lists`: lists of strings, and
    JSON objects named in `objects`) from `data`, refusing with one 422 field map: keys
    not declared here ("Unknown field."), missing required ones, wrong types, NUL
    characters, lone surrogates and strings over 10,000 characters (except the `unbounded`
    ones among required and optional: a document's text, a link's token, which the body's
    1 MB bound limits). An object's keys and string values, at any depth, are held to the
    same text rules; its size is its reader's business (app/userfields)."""
    # Every keyword names accepted keys: a new kind of field adds its names here.
    problems = unknown_fields(data, (*required, *optional, *booleans, *string_lists, *objects))
    out: dict = {}
    for name in required + optional:
        value = data.get(name)
        if value is None:
            if name in required:
                problems[name] = "This field is required."
            continue
        problem = "Must be a string." if not isinstance(value, str) else text_problem(value)
        if problem:
            problems[name] = problem
        elif len(value) > MAX_STRING and name not in unbounded:
            problems[name] = f"Must be at most {MAX_STRING} characters."
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
        elif problem := next(filter(None, map(_string_problem, value)), None):
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
        raise ValidationFailed(problems, _message(problems))
    return out


def _string_problem(value) -> str | None:
    if not isinstance(value, str):
        return "Must be a string."
    if len(value) > MAX_STRING:
        return f"Must be at most {MAX_STRING} characters."
    return text_problem(value)


def _object_text_problem(value, path: str) -> tuple[str, str] | None:
    """(where, what) for the first key or string inside `value` that no database or reply
    can hold: a NUL character or a lone surrogate (PostgreSQL's jsonb refuses both)."""
    stack = [(value, path)]
    while stack:  # iterative: json_body already bounds the depth Python's parser accepts
        item, where = stack.pop()
        if isinstance(item, dict):
            for key, inner in item.items():
                if text_problem(key):
                    return where, "Keys must be valid Unicode text without NUL characters."
                stack.append((inner, f"{where}.{key}" if where.count(".") < 1 else where))
        elif isinstance(item, list):
            stack.extend((inner, where) for inner in item)
        elif isinstance(item, str) and text_problem(item):
            return where, "Must be valid Unicode text without NUL characters."
    return None


def _message(problems: dict[str, str]) -> str:
    unknown = [name for name, problem in problems.items() if problem == UNKNOWN_FIELD]
    rest = [problem for problem in problems.values() if problem != UNKNOWN_FIELD]
    if not unknown:
        return "; ".join(rest)
    names = ", ".join(repr(name) for name in unknown)
    if len(unknown) == 1:
        head = f"Unknown field {names}: this endpoint does not accept it."
    else:
        head = f"Unknown fields {names}: this endpoint does not accept them."
    return "; ".join([head, *rest])


def unknown_fields(data: dict, declared) -> dict[str, str]:
    """{key: "Unknown field."} for every key of `data` not in `declared`."""
    known = set(declared)
    return {key: UNKNOWN_FIELD for key in data if key not in known}
