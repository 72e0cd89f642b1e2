"""Who may use an app: an app without any AppAccess row is open to every signed-in
person; otherwise the people it lists and the members of the groups it lists."""
from __future__ import annotations

from ..models import Membership, User
from .models import App, AppAccess


def may_use(user: User, app: App) -> bool:
    """Whether `user` (signed in, not locked) may use `app`."""
    if user is None or user.locked:
        return False
    rows = AppAccess.select().where(AppAccess.app == app.id)
    if not rows.exists():
        return True
    groups = Membership.select(Membership.group).where(Membership.user == user.id)
    return rows.where((AppAccess.user == user.id) | AppAccess.group.in_(groups)).exists()
