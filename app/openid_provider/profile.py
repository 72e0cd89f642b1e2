"""/profile/connected-apps: the apps a person allowed to learn who they are, each with a
button that takes the consent back (and revokes the tokens the app holds for them)."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_login import current_user, login_required

from ..errors import NotFound
from ..web.forms import BrowserForm
from .consent import SCOPE_TEXT, consents_of, revoke_consent

bp = Blueprint("openid_provider_profile", __name__)


class RevokeConsentForm(BrowserForm):
    pass


@bp.route("/profile/connected-apps")
@login_required
def connected_apps():
    return render_template("account/connected_apps.html", consents=consents_of(current_user._get_current_object()),
                           scope_text=SCOPE_TEXT, form=RevokeConsentForm())


@bp.route("/profile/connected-apps/<int:app_id>/revoke", methods=["POST"])
@login_required
def revoke(app_id: int):
    form = RevokeConsentForm()
    if not form.validate():
        flash("The form could not be verified; try again.", "error")
        return redirect(url_for(".connected_apps"), 303)
    try:
        revoke_consent(current_user._get_current_object(), app_id)
    except NotFound as e:
        flash(e.message, "error")
    else:
        flash("Done: the app no longer has your permission, and its sign-ins with your account have ended.", "success")
    return redirect(url_for(".connected_apps"), 303)
