"""Security headers on every response, added as the response leaves the app (a WSGI
middleware: a plain list append, on the path every request takes)."""
from __future__ import annotations

SECURITY_HEADERS = (
    ("Content-Security-Policy",
     "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
     "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    # Links carry tokens in their paths: a Referer names only this site's origin, never a
    # path (and browsers then send Origin with a form, which app/web/csrf.py checks).
    ("Referrer-Policy", "strict-origin"),
)


def policy_with_form_target(origin: str) -> str:
    """The Content-Security-Policy with `origin` added to form-action: a login form whose
    answer redirects to a registered app (Chromium applies form-action to the redirects
    that follow a form's submission). `origin` is scheme://host[:port], already checked."""
    policy = SECURITY_HEADERS[0][1]
    return policy.replace("form-action 'self'", f"form-action 'self' {origin}")


HSTS = ("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
NO_STORE = ("Cache-Control", "no-store")
# Answers depend on who asks: one Vary header naming both (merged with the app's own, such
# as Flask's "Vary: Cookie", since two Vary headers are one too many for some caches).
VARY = ("Cookie", "Authorization")


class SecurityHeaders:
    """Adds SECURITY_HEADERS (and HSTS on https) to every response unless the app set
    its own value, and makes everything but static files uncacheable: pages and API answers
    carry personal data and tokens."""

    def __init__(self, wsgi_app, https: bool):
        self.wsgi_app = wsgi_app
        self.headers = SECURITY_HEADERS + ((HSTS,) if https else ())

    def __call__(self, environ, start_response):
        static = environ.get("PATH_INFO", "").startswith("/static/")

        def start(status, headers, exc_info=None):
            present = {name.lower() for name, _ in headers}
            if static:
                out = list(headers)
            else:
                out = [h for h in headers if h[0].lower() not in ("cache-control", "vary")]
                out.append(NO_STORE)
                out.append(("Vary", merged_vary(headers)))
            out.extend(h for h in self.headers if h[0].lower() not in present)
            return start_response(status, out, exc_info)

        return self.wsgi_app(environ, start)


def merged_vary(headers) -> str:
    """One Vary value: the app's own names (from any number of Vary headers), then VARY's,
    each once whatever its case."""
    names = [n.strip() for name, value in headers if name.lower() == "vary"
             for n in value.split(",") if n.strip()]
    seen, out = set(), []
    for n in [*names, *VARY]:
        if n.lower() not in seen:
            seen.add(n.lower())
            out.append(n)
    return ", ".join(out)
