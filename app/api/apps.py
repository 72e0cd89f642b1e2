"""/api/v1/apps: register and manage apps (docs/apps.md), and /api/v1/users/me/apps, the
apps the caller may use. Holders of `apps.manage` manage the apps they registered, holders
of `apps.manage_all` every app; an app someone may not manage answers 404."""
from __future__ import annotations

from flask import Blueprint, jsonify

from ..apps import service
from ..apps.models import App
from ..models import iso
from .auth import current_api_user, login_required, permission_required
from .jsonbody import fields, json_body
from .openapi import obj, operation, path_parameter, ref, string

bp = Blueprint("api_apps", __name__)

_STRINGS = ("name", "icon", "launch_url")
_LISTS = ("hosts", "redirect_uris", "allowed_groups", "allowed_users")


def app_json(app: App, client_secret: str | None = None) -> dict:
    """The OpenAPI `App` schema (with `client_secret` only when one was just made)."""
    groups, users = service.access_of(app)
    out = {"id": app.id, "name": app.name, "icon": app.icon, "launch_url": app.launch_url,
           "hosts": service.hosts_of(app), "redirect_uris": service.redirect_uris_of(app),
           "client_id": app.client_id, "public": app.public, "consent": app.consent,
           "allowed_groups": groups, "allowed_users": users, "created_at": iso(app.created_at)}
    if client_secret is not None:
        out["client_secret"] = client_secret
    return out


def launcher_json(app: App) -> dict:
    """The OpenAPI `LauncherApp` schema: what a person sees of an app they may use."""
    return {"id": app.id, "name": app.name, "icon": app.icon, "launch_url": app.launch_url}


@bp.get("/apps")
@permission_required("apps.manage")
def list_apps():
    return jsonify(results=[app_json(a) for a in service.managed_apps(current_api_user())])


@bp.post("/apps")
@permission_required("apps.manage")
def create_app():
    values = fields(json_body(), required=("name",), optional=("icon", "launch_url"),
                    string_lists=_LISTS, booleans=("consent", "public"))
    saved = service.create_app(values, actor=current_api_user())
    return jsonify(app_json(saved.app, saved.client_secret)), 201


@bp.get("/apps/<int:id>")
@permission_required("apps.manage")
def get_app(id):
    return jsonify(app_json(service.get_app(id, current_api_user())))


@bp.patch("/apps/<int:id>")
@permission_required("apps.manage")
def update_app(id):
    app = service.get_app(id, current_api_user())
    values = fields(json_body(), optional=_STRINGS, string_lists=_LISTS,
                    booleans=("consent", "public", "new_secret"))
    new_secret = values.pop("new_secret", False)
    saved = service.update_app(app, values, actor=current_api_user(), new_secret=new_secret)
    return jsonify(app_json(saved.app, saved.client_secret))


@bp.delete("/apps/<int:id>")
@permission_required("apps.manage")
def delete_app(id):
    service.delete_app(service.get_app(id, current_api_user()), actor=current_api_user())
    return "", 204


@bp.get("/users/me/apps")
@login_required
def my_apps():
    return jsonify(results=[launcher_json(a) for a in service.apps_for(current_api_user())])


# ---------------------------------------------------------------- OpenAPI

_APP_ID = path_parameter("id", "The app's id.")
_LIST = {"type": "array", "items": {"type": "string"}}
_BODY = dict(
    name=string("1 to 100 characters; unique, compared case-insensitively."),
    icon=string("One letter, or an https URL of an image (default: the name's first letter)."),
    launch_url=string("Where the app's tile leads: an absolute http(s) URL."),
    hosts={**_LIST, "description": "Hosts forward-auth answers for: `host` or `host:port`, "
                                   "stored in lower case; each belongs to one app (409 `taken`)."},
    redirect_uris={**_LIST, "description": "OpenID Connect redirect URIs, matched exactly: "
                                           "absolute https URLs (http only for localhost or "
                                           "127.0.0.1). Giving them makes the app a client."},
    allowed_groups={**_LIST, "description": "Group names whose members may use the app."},
    allowed_users={**_LIST, "description": "Usernames of people who may use the app. With "
                                           "neither list, every signed-in person may."},
    consent={"type": "boolean", "description": "Ask people before the app learns who they are "
                                               "(default true)."},
    public={"type": "boolean", "description": "A public client (no secret; PKCE required)."},
)

OPENAPI_SCHEMAS: dict = {
    "App": obj(("id", "name", "icon", "launch_url", "hosts", "redirect_uris", "client_id", "public",
                "consent", "allowed_groups", "allowed_users", "created_at"),
               id={"type": "integer"}, name={"type": "string"}, icon={"type": "string"},
               launch_url={"type": "string"}, hosts=_LIST, redirect_uris=_LIST,
               client_id={"type": ["string", "null"]}, public={"type": "boolean"},
               consent={"type": "boolean"}, allowed_groups=_LIST, allowed_users=_LIST,
               created_at={"type": "string", "format": "date-time"},
               client_secret={"type": "string", "description": "Only in the answer that made it "
                                                               "(never stored: keep it now)."}),
    "AppList": obj(("results",), results={"type": "array", "items": ref("App")}),
    "LauncherApp": obj(("id", "name", "icon", "launch_url"), id={"type": "integer"},
                       name={"type": "string"}, icon={"type": "string"}, launch_url={"type": "string"}),
    "LauncherAppList": obj(("results",), results={"type": "array", "items": ref("LauncherApp")}),
}

_WHO = ("Needs `apps.manage`: the apps the caller registered, or every app with "
        "`apps.manage_all`; another app answers 404.")

OPENAPI_PATHS: dict = {
    "/api/v1/apps": {
        "get": operation("List apps", tag="apps", operation_id="listApps", description=_WHO,
                         responses={200: ("The apps the caller manages, by name.", ref("AppList"))},
                         errors=(403,)),
        "post": operation(
            "Register an app", tag="apps", operation_id="createApp",
            description="Needs `apps.manage`. With `redirect_uris`, the answer has `client_id` "
                        "and, for a confidential client, `client_secret`: shown only here. "
                        "409 `taken` for a name or host in use; 422 naming unknown groups or "
                        "people.",
            request=obj(("name",), **_BODY), responses={201: ("The new app.", ref("App"))},
            errors=(403, 409)),
    },
    "/api/v1/apps/{id}": {
        "get": operation("An app", tag="apps", operation_id="getApp", parameters=[_APP_ID],
                         description=_WHO, responses={200: ("The app.", ref("App"))}, errors=(403, 404)),
        "patch": operation(
            "Change an app", tag="apps", operation_id="updateApp", parameters=[_APP_ID],
            description=_WHO + " Lists replace the old ones. `new_secret: true` makes a new "
                        "client secret (the old one stops working), returned once as "
                        "`client_secret`; so is the secret of a client made by giving "
                        "`redirect_uris` for the first time.",
            request=obj((), **_BODY, new_secret={"type": "boolean"}),
            responses={200: ("The changed app.", ref("App"))}, errors=(403, 404, 409)),
        "delete": operation("Delete an app", tag="apps", operation_id="deleteApp", parameters=[_APP_ID],
                            description=_WHO + " Its hosts and client stop working at once.",
                            responses={204: ("Deleted.", None)}, errors=(403, 404)),
    },
    "/api/v1/users/me/apps": {
        "get": operation("The apps I may use", tag="apps", operation_id="listMyApps",
                         description="Any signed-in person: the apps open to everyone signed in, "
                                     "to them or to a group of theirs, by name.",
                         responses={200: ("The caller's apps.", ref("LauncherAppList"))}),
    },
}
