"""Reading the browser pages in tests: the error shown beside a field, the errors at the top
of a form, flashes, and a page with its varying parts (CSRF tokens) blanked for comparison."""
from __future__ import annotations

import html
import re
from urllib.parse import quote, urlsplit

from conftest import csrf_from

SESSION_COOKIE = "keystead_session"


def _text(fragment: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def error_beside(page: str, field_id: str) -> str | None:
    """The error text shown beside the field `field_id`, or None."""
    m = re.search(rf'<div class="error" id="{re.escape(field_id)}-error">(.*?)</div>', page, re.S)
    return _text(m.group(1)) if m else None


def field_errors(page: str) -> dict[str, str]:
    """Every field error on the page, by field id."""
    return {m.group(1): _text(m.group(2))
            for m in re.finditer(r'<div class="error" id="([\w-]+)-error">(.*?)</div>', page, re.S)}


def form_errors(page: str) -> list[str]:
    return [_text(m) for m in re.findall(r'<p class="error form-error" role="alert">(.*?)</p>', page, re.S)]


def flashes(page: str) -> list[str]:
    return [_text(m) for m in re.findall(r'<p class="flash[^"]*" role="status">(.*?)</p>', page, re.S)]


def blank_tokens(page: str) -> str:
    """The page with CSRF token values blanked (they are signed with a timestamp)."""
    return re.sub(r'(name="csrf_token" type="hidden" value=")[^"]+', r"\1", page)


def path_of(url: str) -> str:
    """The path (and query) of a mailed link, to follow it with the test client."""
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def login_path(next_path: str | None = None) -> str:
    return "/login" + (f"?next={quote(next_path, safe='')}" if next_path is not None else "")


def submit(client, path: str, data: dict, page: str | None = None, **kw):
    """Like conftest.post_form, but fails clearly when the page has no form."""
    got = client.get(page or path)
    assert got.status_code == 200, f"GET {page or path} answered {got.status_code}"
    return client.post(path, data={"csrf_token": csrf_from(got.get_data(as_text=True)), **data}, **kw)


def session_cookie(client) -> str | None:
    cookie = client.get_cookie(SESSION_COOKIE)
    return cookie.value if cookie else None


def redirect_to(response) -> tuple[str, dict[str, str]]:
    """(path, query parameters) of a redirect's Location."""
    from urllib.parse import parse_qsl
    parts = urlsplit(response.headers["Location"])
    return parts.path, dict(parse_qsl(parts.query))
