"""A core plugin: any account, group or app change made in this process drops the
forward-auth decisions it cached (app/apps/forward_auth.py), so a logout, a lock, a new
group member or a changed app takes effect here at once (other processes: within
forward_auth.CACHE_SECONDS)."""
from __future__ import annotations

from flask import current_app, has_app_context

from ..hookspecs import hookimpl

# Events that change nothing forward-auth decides on (it records the first two itself).
_UNRELATED = frozenset({"app_sign_in", "app_refused", "login", "login_failed", "notice_not_mailed",
                        "document_upload", "document_share", "document_unshare", "document_delete"})


@hookimpl
def keystead_event(event, actor, target, outcome, details):
    if event in _UNRELATED or not has_app_context():
        return
    cache = current_app.extensions.get("keystead.forward_auth")
    if cache is not None:
        cache.forget()
