"""The provider contract: every hook Keystead calls, in the order of a login's life.

A plugin implements some of these with `@hookimpl` (``from keystead import hookimpl``) and is
registered through the entry-point group ``keystead.providers``, the built-in providers
included. Hooks that choose one answer are ``firstresult``: the first non-None result wins
and the rest are not called; a provider answers None for anything that is not its own
(the provider name is always passed explicitly). The others collect every result in a list.
"""
from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker("keystead")
hookimpl = pluggy.HookimplMarker("keystead")


# ---------------------------------------------------------------- start-up

@hookspec
def keystead_provider_info():
    """Describe the provider this plugin offers, if any.

    Called at start-up and for ``GET /api/v1/providers`` and ``keystead providers``, always
    within an app context (``current_app.extensions["keystead.settings"]`` holds the
    settings, for a title or availability that depends on them). Return a
    :class:`app.identity.ProviderInfo` (name, title, availability and what it supports),
    or None for a plugin that provides no login (an event observer, a password policy).
    All results are collected; two plugins may not claim one name.
    """


@hookspec
def keystead_startup(app, settings):
    """Prepare the plugin for serving. Called once per app, within its app context, after
    the settings are read and the named providers are known to be installed and available.

    ``settings`` is the checked :class:`app.config.Settings`; a provider is active when its
    name is in ``settings.providers``. Raise :class:`app.identity.ProviderUnavailable` with
    what to install or configure to refuse start-up (an active provider missing a setting).
    Results are ignored.
    """


@hookspec
def keystead_blueprints(settings):
    """Return a list of Flask blueprints to register (a provider's login start and
    callback routes, for example). Called once at start-up; every plugin's lists are
    joined. Routes are registered whether or not the provider is active; they should
    answer 404 when it is not."""


@hookspec
def keystead_user_fields():
    """Declare custom profile fields, beside the administrator's ``[[Profile.Fields]]``.

    Called once at start-up, within the app context, after the plugins are loaded. Return a
    list of declarations, each a dict with the keys of a ``[[Profile.Fields]]`` table
    (``name``, ``label``, ``type``, ``required``, ``options``, ``editable_by``,
    ``visible_to``, ``at_signup``, ``max_length``), or None for none. Every plugin's lists
    are collected and joined after the configured fields, in plugin registration order; a
    bad declaration, or a name already declared (by the configuration or another plugin),
    refuses start-up with one line naming the plugin and the field.
    """


# ---------------------------------------------------------------- login

@hookspec(firstresult=True)
def keystead_authenticate(provider, username, password):
    """Check a username (or email) and password for the provider named ``provider``.

    Called on each login with a password, once for each active provider that supports
    passwords, in the order of Authentication.Provider. Return an
    :class:`app.identity.Identity` when the credentials are right, or None (not mine, or
    wrong). Stops at the first non-None result. Take the same time for an unknown user as
    for a wrong password. Raise :class:`app.errors.ProviderError` to stop the login with a
    message (502), or :class:`app.errors.ProviderUnreachable` when the provider's server (a
    directory) cannot be reached (503 ``provider_unavailable``).
    """


@hookspec(firstresult=True)
def keystead_map_identity(identity):
    """Return the local :class:`app.models.User` for an authenticated ``identity``.

    Called after every successful authentication, by password or redirect. The core's own
    implementation (app/identities.py) links (provider, subject) to one local user,
    creating it on first login; a plugin may answer first to map differently. Stops at the
    first non-None result.
    """


@hookspec
def keystead_validate_password(password, user_inputs):
    """Check a new password beyond the built-in rules (length, common list, zxcvbn).

    Called whenever a password is set: sign-up, change, reset, confirmation, creation by an
    administrator. ``user_inputs`` are the person's username, email and names. Return a
    message (str) that refuses the password, or None. Every result is collected; the first
    message is shown.
    """


# ---------------------------------------------------------------- events

@hookspec
def keystead_event(event, actor, target, outcome, details):
    """Observe an account event after the change it reports.

    ``event`` is one of signup, user_create, login, login_failed, lockout, logout, password_change,
    password_reset, role_change, lock, unlock, user_delete, user_update, group_change,
    api_key_create, api_key_revoke, totp_enable, totp_disable, totp_reset, email_change
    (details: old_email, new_email), notice_not_mailed (details: notice, reason),
    email_marked_verified (an administrator vouched for the address; details: email),
    document_upload, document_share, document_unshare, document_delete (target: the
    document's owner; details: document_id, title, and group_id, group for a share),
    signup_pending (a sign-up waits for approval; details: provider), signup_approved,
    signup_rejected (actor: the approver, None from the command line), terms_accept
    (details: version), app_create, app_change, app_delete (an app registered, changed or
    deleted; details: app_id, app), app_sign_in (a sign-in reaching an app: through OpenID
    Connect, or the first forward-auth check of a sign-in; details: app, app_id, via),
    app_refused, app_consent, app_consent_revoke, app_token_reuse (details: app, app_id)
    (plugins may add their own);
    ``actor`` and ``target`` are User objects or None; ``outcome`` is "success" or
    "failure"; ``details`` is a dict of non-secret facts (the client address, the provider,
    the submitted username of a failed login). Called within the request, in the same
    transaction as the change where there is one. Results are ignored.
    """


# ---------------------------------------------------------------- authorization

@hookspec
def keystead_permissions(user):
    """Add permissions to a person beyond those of their role and their groups' roles.

    Called once at start-up with ``user=None``: return every permission name the plugin
    defines (each then becomes valid in Authorization.Roles, and administrators hold it).
    Called again whenever a person's permissions are worked out (at most once per request
    and person) with ``user`` a :class:`app.models.User`: return an iterable of permission
    names that person holds, or None. Every result is collected and joined to the role's
    permissions; a plugin can add permissions, never take them away (use
    ``keystead_authorize`` to refuse).
    """


@hookspec
def keystead_authorize(user, permission, resource):
    """Decide whether ``user`` may use ``permission`` on one ``resource`` (a document, say).

    Called for every check that names a resource (the documents service passes the
    document for ``documents.read``, ``documents.share``...). Return False to refuse, True
    to allow, or None to leave it to the roles. Every implementation is called and the
    results combine so: any False refuses, else any True allows, else the person's
    permissions decide. A refused read answers 404 (the resource's existence is not
    leaked); a refused action on a resource the person may see answers 403 ``forbidden``.
    """
