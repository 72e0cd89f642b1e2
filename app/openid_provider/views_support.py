"""Ending the browser session for RP-initiated logout (as /logout does)."""
from __future__ import annotations

from flask_login import current_user

from .. import accounts
from ..login import client_address
from ..plugins import hook
from ..web.session import end_session
from .claims import subject


def end_browser_session(end_session_request) -> None:
    """Log the browser out. An ID token naming someone other than the person signed in
    ends nothing of theirs, but this browser's session still ends."""
    claims = end_session_request.id_token_claims
    if current_user.is_authenticated:
        user = current_user._get_current_object()
        if claims is None or claims.get("sub") == subject(user):
            accounts.end_browser_sessions(user)
            hook().keystead_event(event="logout", actor=user, target=user, outcome="success",
                                  details={"client": client_address(), "via": "app"})
    end_session()
