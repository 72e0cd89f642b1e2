"""Administration pages (docs/administration.md): /admin/people (list, search, create, a
person's page with role, details, lock, confirmation and reset links, API keys, delete:
person_pages.py) and /admin/groups (group_pages.py).

Each page needs its permission (PERMISSION_OF below): people.read to see people,
people.manage to change them, keys.manage_all for their API keys, groups.manage for
groups. Anonymous visitors are sent to log in, everyone else without it gets 403. Views
are thin: a form checks shape (forms.py), a service function (app/accounts, app/groups.py,
app/recovery.py) applies the rules, and its ServiceError is shown beside the field it
names. Every change asks for the password again when Password.WebSudoMode is on
(@sudo_required). Sudo sends the browser back to the address it interrupted with a GET, so
each action answers a GET by returning to the page its form is on.
"""
from __future__ import annotations

from flask import Blueprint, abort, current_app, redirect, request, url_for
from flask_login import current_user

from ... import accounts, groups
from ...authorization import has_permission, known_roles, require_outranks, role_title
from ...errors import NotFound, ServiceError
from ...models import User
from .forms import SelectChoice

bp = Blueprint("admin", __name__, url_prefix="/admin")

SEE_OTHER = 303
PER_PAGE = 50

# The permission each page needs (by endpoint); pages not listed need people.manage.
PERMISSION_OF = {
    "admin.index": "people.read",
    "admin.people": "people.read",
    "admin.person": "people.read",
    "admin.revoke_api_key": "keys.manage_all",
    "admin.groups": "groups.manage",
    "admin.new_group": "groups.manage",
    "admin.group": "groups.manage",
    "admin.rename_group": "groups.manage",
    "admin.group_roles": "groups.manage",
    "admin.add_member": "groups.manage",
    "admin.remove_member": "groups.manage",
    "admin.delete_group": "groups.manage",
}


# Actions that hand over a person's account (a link to set their password) or weaken it:
# the service functions of the other changes check the same rule themselves.
_TAKEOVER_ENDPOINTS = {"admin.resend_confirmation", "admin.reset_link", "admin.verification_link",
                       "admin.reset_two_factor"}


@bp.before_request
def _holders_of_the_permission_only():
    if not current_user.is_authenticated:
        return current_app.login_manager.unauthorized()
    permission = PERMISSION_OF.get(request.endpoint, "people.manage")
    if not has_permission(me(), permission):
        abort(403, f"This page needs the permission {permission}.")
    if request.method == "POST" and request.endpoint in _TAKEOVER_ENDPOINTS:
        target = User.get_or_none(User.id == request.view_args["user_id"])
        if target is not None:
            try:  # nobody changes someone who holds permissions they lack
                require_outranks(me(), target)
            except ServiceError as e:
                abort(403, e.message)
    return None


def me() -> User:
    """The signed-in administrator."""
    return current_user._get_current_object()


def page_number() -> int:
    page = request.args.get("page", 1, type=int)
    return min(max(page, 1), 10**6)


def page_count(total: int) -> int:
    return max(1, -(-total // PER_PAGE))


def back_to(endpoint: str, **values):
    """Where an action sends a GET (after /sudo): the page its form is on."""
    return redirect(url_for(endpoint, **values), SEE_OTHER)


def person_or_404(user_id: int) -> User:
    try:
        return accounts.get_user(user_id)
    except NotFound:
        abort(404, "There is no such person. They may have been deleted.")


def group_or_404(group_id: int):
    try:
        return groups.get_group(group_id)
    except NotFound:
        abort(404, "There is no such group. It may have been deleted.")


def role_choices(current: str | None = None) -> list:
    """The roles the signed-in person may grant (and `current`, so the form shows it)."""
    from ...authorization import can_grant
    return [SelectChoice(r, role_title(r)) for r in known_roles() if r == current or can_grant(me(), r)]


from . import group_pages, person_pages  # noqa: E402,F401  (their routes join bp)
