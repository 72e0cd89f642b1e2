"""Consents: what a person allowed an app to learn, remembered per person and app, listed
on /profile/connected-apps and revocable there (revoking also revokes the app's tokens)."""
from __future__ import annotations

from ..apps.models import App
from ..db import write_transaction
from ..errors import NotFound
from ..models import User
from ..plugins import hook
from .issued import revoke_person
from .models import Consent

SCOPE_TEXT = {
    "openid": "who you are (an identifier of your account)",
    "profile": "your username and name",
    "email": "your email address",
    "groups": "the groups you belong to",
    "offline_access": "to keep access while you are not using it",
}


def needs_consent(user: User, app: App, scope: str, asked: bool) -> bool:
    """Whether the person must be asked: the app asks for consent and they have not yet
    allowed every scope requested (or the app asked again with prompt=consent)."""
    if not app.consent:
        return False
    if asked:
        return True
    row = Consent.get_or_none((Consent.user == user.id) & (Consent.app == app.id))
    return row is None or not set(scope.split()) <= set(row.scope.split())


def remember_consent(user: User, app: App, scope: str) -> None:
    with write_transaction():
        row = Consent.get_or_none((Consent.user == user.id) & (Consent.app == app.id))
        if row is None:
            Consent.create(user=user.id, app=app.id, scope=scope)
        else:
            merged = " ".join(sorted(set(row.scope.split()) | set(scope.split())))
            Consent.update(scope=merged).where(Consent.id == row.id).execute()
        hook().keystead_event(event="app_consent", actor=user, target=user, outcome="success",
                              details={"app": app.name, "app_id": app.id, "scope": scope})


def consents_of(user: User) -> list[dict]:
    rows = (Consent.select(Consent, App).join(App).where(Consent.user == user.id).order_by(App.name))
    return [{"app_id": r.app.id, "app": r.app.name, "scope": r.scope.split(), "since": r.created_at}
            for r in rows]


def revoke_consent(user: User, app_id: int) -> None:
    """Forget the person's consent for the app and revoke every token it holds for them."""
    with write_transaction():
        row = (Consent.select(Consent, App).join(App)
               .where((Consent.user == user.id) & (Consent.app == app_id)).first())
        if row is None:
            raise NotFound("You have not allowed this app anything.")
        Consent.delete().where(Consent.id == row.id).execute()
        revoke_person(user.id, app_id)
        hook().keystead_event(event="app_consent_revoke", actor=user, target=user, outcome="success",
                              details={"app": row.app.name, "app_id": row.app.id})
