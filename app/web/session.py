"""Browser sessions: Flask-Login bound to the person's uniquifier and epoch, Lifetime and
Inactivity limits, and web sudo (password re-entry) for sensitive actions."""
from __future__ import annotations

import functools
import hmac
import time

from flask import current_app, flash, redirect, request, session, url_for
from flask.sessions import SecureCookieSessionInterface
from flask_login import current_user, login_user, logout_user

from ..models import User

SUDO_KEY = "sudo_until"


class KeysteadSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, with two savings on the path every API call takes:
    the API never reads or writes a session (a cookie never authenticates it: docs/api.md), so
    its requests get Flask's null session, which Flask never saves and which refuses to be
    written; and the signing serializer is made once per app instead of once per request."""

    def get_signing_serializer(self, app):
        serializer = app.extensions.get("keystead.session_serializer")
        if serializer is None:
            serializer = super().get_signing_serializer(app)
            app.extensions["keystead.session_serializer"] = serializer
        return serializer

    def open_session(self, app, request):
        if request.path.startswith("/api/"):
            return self.make_null_session(app)
        return super().open_session(app, request)


def _settings():
    return current_app.extensions["keystead.settings"]


def load_session_user(session_id: str) -> User | None:
    """Flask-Login's user_loader: "id:epoch:uniquifier" holds only for the person with that
    uniquifier (never another one, whatever became of the id) while the epoch matches."""
    try:
        user_id, epoch, uniquifier = session_id.split(":")
        user_id, epoch = int(user_id), int(epoch)
    except (ValueError, AttributeError):
        return None
    user = User.get_or_none(User.id == user_id)
    if (user is None or not hmac.compare_digest(user.uniquifier.encode(), uniquifier.encode())
            or user.session_epoch != epoch or user.locked):
        return None
    return user


def start_session(user: User) -> None:
    """A new session for `user`: nothing of the anonymous session is kept (no fixation)."""
    session.clear()
    session.permanent = True
    login_user(user)  # fresh, and no remember-me cookie: the session cookie is all there is
    now = int(time.time())
    session["login_at"] = now
    session["seen_at"] = now


def end_session() -> None:
    logout_user()
    session.clear()


def session_has_ended(data, now: float) -> bool:
    """Whether the session `data` (its "login_at" and "seen_at") has ended at `now`: past
    Authentication.Lifetime, idle past Authentication.Inactivity, or not saying when it
    began (no login of Keystead's made it). The browser's pages and forward-auth ask this."""
    login_at, seen_at, s = data.get("login_at"), data.get("seen_at"), _settings()
    return (not isinstance(login_at, int) or not isinstance(seen_at, int)
            or now - login_at > s["Authentication.Lifetime"] or now - seen_at > s["Authentication.Inactivity"])


def check_session_age() -> None:
    """Before each browser request: end the session when it has ended (session_has_ended)."""
    if not current_user.is_authenticated or "_user_id" not in session:
        return  # nobody, or no login's session (development mode's stand-in administrator)
    now = int(time.time())
    if session_has_ended(session, now):
        end_session()
        flash("Your session has ended. Please log in again.", "info")
        return
    if now - session["seen_at"] >= 30:  # change the cookie's contents at most twice a minute
        session["seen_at"] = now


def sudo_active(*, always_ask: bool = False) -> bool:
    """Whether sensitive actions may go ahead without asking again. People with no password
    here (an outside provider's) prove themselves by a fresh login through that provider:
    a login within WebSudoModeDuration counts as re-entry. WebSudoMode=false skips the
    question, except for actions that ask whatever the setting (`always_ask`): those that
    hand out a credential (a stolen session could otherwise mint one that outlives it) and
    an address change (the new address would receive the reset links)."""
    s = _settings()
    if not s["Password.WebSudoMode"] and not always_ask:
        return True
    sudo_until = session.get(SUDO_KEY)
    if sudo_until is not None and sudo_until > time.time():
        return True
    if current_user.is_authenticated and current_user.password_hash is None:
        # check_session_age saw to it that a signed-in session says when it began
        return time.time() - session["login_at"] < s["Password.WebSudoModeDuration"]
    return False


def grant_sudo() -> None:
    session[SUDO_KEY] = int(time.time()) + _settings()["Password.WebSudoModeDuration"]


def sudo_required(view=None, *, always_ask: bool = False):
    """Send the person to /sudo to re-enter their password (WebSudoMode), then back.
    `@sudo_required(always_ask=True)` asks even with WebSudoMode off."""
    if view is None:
        return functools.partial(sudo_required, always_ask=always_ask)

    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if not sudo_active(always_ask=always_ask):
            return ask_for_sudo()
        return view(*args, **kwargs)
    return wrapped


def ask_for_sudo(next_path: str | None = None):
    """The redirect to /sudo, which comes back to `next_path` (default: this address) with a GET."""
    return redirect(url_for("auth.sudo", next=next_path or request.full_path.rstrip("?")))


def start_page() -> str:
    """Where a signed-in person starts (`/`): their profile."""
    return url_for("account.profile")


def safe_next(target: str | None, default: str = "/profile") -> str:
    """`target` when it is a path on this site or an absolute URL on a registered app's host
    (app/apps/redirects.py), else `default` (no open redirects)."""
    if not target or not isinstance(target, str):
        return default
    target = target.strip()
    if not target.startswith("/"):
        from ..apps.redirects import is_app_url
        return target if is_app_url(target) else default
    # A path, never "//host" or "///host" (browsers read both as another site's address),
    # nor a backslash (some read "/\\host" so) or a control character.
    if target.startswith("//") or "\\" in target or any(ord(c) < 32 for c in target):
        return default
    return target
