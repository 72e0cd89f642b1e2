"""`keystead apps ...`: register and manage apps from the command line, on the same service
functions as the admin pages and the API (the command line may manage every app). A
refusal is one line on stderr and exit 1."""
from __future__ import annotations

import click
from flask.cli import with_appcontext

from ..errors import ServiceError
from .common import db_session, fail


@click.group()
def apps():
    """Manage apps (forward-auth hosts, OpenID Connect clients, who may use them)."""


def _app_arg(name):
    from ..apps.service import find_app
    try:
        return find_app(name)
    except ServiceError as e:
        fail(e)


def _describe(app, client_secret=None) -> None:
    from ..apps.service import access_of, hosts_of, redirect_uris_of
    groups, people = access_of(app)
    click.echo(f"{app.name} (id {app.id})")
    click.echo(f"  launch URL:     {app.launch_url or '-'}")
    click.echo(f"  hosts:          {', '.join(hosts_of(app)) or '-'}")
    click.echo(f"  redirect URIs:  {', '.join(redirect_uris_of(app)) or '-'}")
    click.echo(f"  client id:      {app.client_id or '-'}"
               + (" (public)" if app.client_id and app.public else ""))
    click.echo(f"  consent:        {'asked' if app.consent else 'not asked'}")
    who = ", ".join([*(f"group {g}" for g in groups), *people]) or "everyone signed in"
    click.echo(f"  who may use it: {who}")
    if client_secret:
        click.echo(f"  client secret:  {client_secret}")
        click.echo("Keep the client secret now: it is not shown again.")


_OPTIONS = [
    click.option("--launch-url", help="Where the app's tile leads."),
    click.option("--icon", help="One letter, or an https URL of an image."),
    click.option("--host", "hosts", multiple=True, help="A host forward-auth answers for (repeat)."),
    click.option("--redirect-uri", "redirect_uris", multiple=True,
                 help="An OpenID Connect redirect URI (repeat); makes the app a client."),
    click.option("--group", "groups", multiple=True, help="A group whose members may use it (repeat)."),
    click.option("--user", "people", multiple=True, help="A username of someone who may use it (repeat)."),
]


def _with_options(command):
    for option in reversed(_OPTIONS):
        command = option(command)
    return command


def _values(launch_url, icon, hosts, redirect_uris, groups, people) -> dict:
    values = {"launch_url": launch_url, "icon": icon, "hosts": list(hosts) or None,
              "redirect_uris": list(redirect_uris) or None, "allowed_groups": list(groups) or None,
              "allowed_users": list(people) or None}
    return {k: v for k, v in values.items() if v is not None}


@apps.command("list")
@with_appcontext
def apps_list():
    """List every app."""
    from ..apps.service import hosts_of, managed_apps
    with db_session():
        found = managed_apps(None)
        click.echo(f"{'id':>6}  {'name':30} {'client':8} hosts")
        for app in found:
            click.echo(f"{app.id:>6}  {app.name:30} {'yes' if app.client_id else 'no':8} "
                       f"{', '.join(hosts_of(app)) or '-'}")
        click.echo(f"{len(found)} apps.")


@apps.command("create")
@click.argument("name")
@_with_options
@click.option("--public", is_flag=True, help="A public OpenID Connect client (no secret; PKCE).")
@click.option("--no-consent", is_flag=True, help="Do not ask people before the app learns who they are.")
@with_appcontext
def apps_create(name, launch_url, icon, hosts, redirect_uris, groups, people, public, no_consent):
    """Register an app (the client secret, if any, is shown once)."""
    from ..apps.service import create_app
    values = {"name": name, **_values(launch_url, icon, hosts, redirect_uris, groups, people),
              "public": public, "consent": not no_consent}
    with db_session():
        try:
            saved = create_app(values)
        except ServiceError as e:
            fail(e)
        click.echo("Registered:")
        _describe(saved.app, saved.client_secret)


@apps.command("show")
@click.argument("app")
@with_appcontext
def apps_show(app):
    """Show an app (by name or id)."""
    with db_session():
        _describe(_app_arg(app))


@apps.command("update")
@click.argument("app")
@click.option("--name", help="A new name.")
@_with_options
@click.option("--no-hosts", is_flag=True, help="Remove every host.")
@click.option("--everyone", is_flag=True, help="Open the app to every signed-in person.")
@click.option("--consent/--no-consent", default=None, help="Ask people before the app learns who they are.")
@click.option("--new-secret", is_flag=True, help="Make a new client secret (the old one stops working).")
@with_appcontext
def apps_update(app, name, launch_url, icon, hosts, redirect_uris, groups, people, no_hosts, everyone,
                consent, new_secret):
    """Change an app: the options given replace what it had."""
    from ..apps.service import update_app
    values = _values(launch_url, icon, hosts, redirect_uris, groups, people)
    if name is not None:
        values["name"] = name
    if no_hosts:
        if hosts:
            raise click.UsageError("give --host or --no-hosts, not both")
        values["hosts"] = []
    if everyone:
        if groups or people:
            raise click.UsageError("give --group/--user or --everyone, not both")
        values.update(allowed_groups=[], allowed_users=[])
    if consent is not None:
        values["consent"] = consent
    with db_session():
        found = _app_arg(app)
        try:
            saved = update_app(found, values, new_secret=new_secret)
        except ServiceError as e:
            fail(e)
        click.echo("Changed:")
        _describe(saved.app, saved.client_secret)


@apps.command("delete")
@click.argument("app")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@with_appcontext
def apps_delete(app, yes):
    """Delete an app: its hosts and client stop working at once."""
    from ..apps.service import delete_app
    with db_session():
        found = _app_arg(app)
        if not yes:
            click.confirm(f"Delete the app {found.name}?", abort=True)
        delete_app(found)
        click.echo(f"The app {found.name} has been deleted.")
