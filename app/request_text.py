"""Text no database can store is refused where it enters: NUL characters (PostgreSQL refuses
them in text; SQLite would store them) and lone surrogates (JSON may spell "\\ud800"; no
database or reply can hold one). JSON fields (app/api/jsonbody.py) and browser form fields
(app/web/forms.py) name the field in a 422 or beside it; here, once per request, the path
(404: no path holds one), query parameters and header values (400) are checked before any
view, on every database alike."""
from __future__ import annotations

from flask import Flask, render_template, request

NUL_MESSAGE = "Must not contain NUL characters."
UNICODE_MESSAGE = "Must be valid Unicode text."


def text_problem(value: str) -> str | None:
    """Why `value` cannot be stored as text (a NUL, a lone surrogate), or None."""
    if "\x00" in value:
        return NUL_MESSAGE
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return UNICODE_MESSAGE
    return None


def _query_problems() -> dict[str, str]:
    problems = {}
    for name, value in request.args.items(multi=True):
        problem = text_problem(name) or text_problem(value)
        if problem:
            problems[name] = problem
    return problems


def _header_problems(environ: dict) -> dict[str, str]:
    values = [value for key, value in environ.items() if key[:5] == "HTTP_" and isinstance(value, str)]
    joined = "".join(values)
    # The common case in one pass of C: WSGI gives header values as latin-1 text, so a NUL
    # is what to look for (a test client or middleware may hand over any str).
    if "\x00" not in joined and joined.isascii():
        return {}
    problems = {}
    for key, value in environ.items():
        if key[:5] == "HTTP_" and isinstance(value, str):
            problem = text_problem(value)
            if problem:
                problems[key[5:].replace("_", "-").title()] = problem
    return problems


def refuse_bad_request_text():
    """The before-request check: None, or the 404 / 400 answer (the API's error shape on
    /api/, the error page elsewhere). Cheap on the common request: a scan of the path and
    of the header values, the query string only when there is one."""
    if "\x00" in request.path:
        return _refusal(404, "not_found", "Not Found", "No page has this address.", {})
    problems = _header_problems(request.environ)
    where = "a header"
    if not problems and request.query_string:
        problems, where = _query_problems(), "the query string"
    if not problems:
        return None
    # The names escaped: a parameter's name may hold the very character refused.
    names = ", ".join(ascii(name) for name in sorted(problems))
    message = f"Bad characters in {where} ({names}): NUL characters and lone surrogates are refused."
    return _refusal(400, "bad_request", "Bad request", message, problems)


def _refusal(status: int, code: str, title: str, message: str, problems: dict):
    if request.path.startswith("/api/"):
        from .api.errors import error_response
        return error_response(status, code, message, problems)
    return render_template("error.html", status=status, title=title, message=message), status


def init_app(app: Flask) -> None:
    """Check every request before the views, the CSRF check, session ageing and rate
    limits, after the host check."""
    app.before_request(refuse_bad_request_text)
