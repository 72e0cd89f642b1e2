"""/admin/approvals: sign-ups waiting for approval (Password.SignupApproval), with approve
and reject buttons, for holders of `people.approve` (administrators, and anyone whose role
or group's role carries it), on the same service functions as the API and the CLI
(app/signup/approval.py). Each decision asks for the password again under WebSudoMode and,
like the other admin actions, answers a GET (after /sudo) by returning to the list."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from .. import accounts
from ..authorization import has_permission
from ..errors import NotFound, ServiceError
from ..signup import approval
from ..signup.terms import current_terms
from .session import sudo_required
from .forms import BrowserForm

bp = Blueprint("approvals", __name__, url_prefix="/admin/approvals")

SEE_OTHER = 303
PER_PAGE = 50


class DecisionForm(BrowserForm):
    """An approve or reject button: the CSRF token is all it carries."""


@bp.app_context_processor
def _approver_globals():
    def terms_version() -> str | None:
        """The current Password.TermsVersion, None without terms (the person page shows it)."""
        terms = current_terms()
        return terms[1] if terms else None
    return {"terms_version": terms_version}


@bp.before_request
def _approvers_only():
    if not current_user.is_authenticated:
        return current_app.login_manager.unauthorized()
    if not has_permission(current_user, approval.APPROVE):
        abort(403, f"This page needs the permission {approval.APPROVE}.")
    return None


@bp.get("", endpoint="pending")
def pending_list():
    page = min(max(request.args.get("page", 1, type=int), 1), 10**6)
    rows, total = accounts.search_users("", page, PER_PAGE, status=approval.PENDING)
    return render_template("admin/approvals.html", people=rows, total=total, page=page,
                           pages=max(1, -(-total // PER_PAGE)), form=DecisionForm(formdata=None),
                           sudo_mode=current_app.extensions["keystead.settings"]["Password.WebSudoMode"])


@bp.route("/<int:user_id>/approve", methods=["GET", "POST"])
@sudo_required
def approve(user_id):
    return _decide(user_id, approval.approve, "{} is approved and can log in now.")


@bp.route("/<int:user_id>/reject", methods=["GET", "POST"])
@sudo_required
def reject(user_id):
    return _decide(user_id, approval.reject, "{}'s sign-up is rejected.")


def _decide(user_id: int, decide, done: str):
    if request.method == "POST":
        if not DecisionForm().validate():
            abort(400, "The form expired. Try again.")
        try:
            person = decide(current_user._get_current_object(), accounts.get_user(user_id))
        except NotFound:
            flash("There is no such person. They may have been deleted.", "error")
        except ServiceError as e:  # decided by someone else meanwhile
            flash(e.message, "error")
        else:
            flash(done.format(person.username), "success")
    return redirect(url_for("approvals.pending"), SEE_OTHER)
