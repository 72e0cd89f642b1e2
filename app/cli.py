"""The `keystead` command: thin click wrappers over the service functions.

`keystead init` prepares the instance folder and the Bootstrap administrator, `keystead
serve` runs gunicorn, `keystead users ...` manages people. Bad input ends with one line
on stderr and a non-zero exit.
"""
from __future__ import annotations

import os
import sys

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext

from .errors import ServiceError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _create_app_for_cli():
    from . import create_app
    from .config import exit_on_config_error
    with exit_on_config_error():
        return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app_for_cli, add_default_commands=False,
             add_version_option=False, load_dotenv=False, set_debug_flag=False)
def main():
    """Keystead: authentication and user management."""


def _fail(e: ServiceError):
    detail = "; ".join(f"{k}: {v}" for k, v in e.fields.items()) if e.fields else e.message
    raise click.ClickException(detail)


def _db():
    return current_app.extensions["keystead.db"]


def init_app(app: Flask) -> None:
    app.cli.add_command(init_command)
    app.cli.add_command(serve_command)
    app.cli.add_command(users)
    app.cli.add_command(providers_command)


@click.command("init")
@with_appcontext
def init_command():
    """Create the instance folder, secret key, database and Bootstrap administrator."""
    from .bootstrap import init_admin
    with _db().connection_context():
        user, generated, message = init_admin()
    click.echo(f"Instance folder: {current_app.instance_path}")
    click.echo(message)
    if generated:
        click.echo(f"Username: {user.username}")
        click.echo(f"Password: {generated}")
        click.echo("This password is shown only once: keep it safe and change it after logging in.")


@click.command("serve")
@click.option("--bind", "-b", default="127.0.0.1:8000", show_default=True, help="Address to listen on.")
@click.option("--workers", "-w", default=2, show_default=True, type=click.IntRange(1, 64))
@with_appcontext
def serve_command(bind, workers):
    """Serve with gunicorn (the app is built in each worker from the same settings)."""
    env = dict(os.environ, KEYSTEAD_INSTANCE=current_app.instance_path)
    gunicorn = os.path.join(os.path.dirname(sys.executable), "gunicorn")
    args = [gunicorn, "--bind", bind, "--workers", str(workers), "--access-logfile", "-",
            "--chdir", ROOT, "wsgi:app"]
    click.echo(f"Serving Keystead on http://{bind}")
    os.execve(gunicorn, args, env)


@click.command("providers")
@with_appcontext
def providers_command():
    """List installed provider plugins, which are active, and their hooks."""
    from .plugins import provider_infos
    pm = current_app.extensions["keystead"]
    active = current_app.extensions["keystead.settings"].providers
    infos = provider_infos(pm)
    for name, info in sorted(infos.items()):
        state = "active" if name in active else ("available" if info.available else "not available")
        click.echo(f"{name:12} {state:14} {info.title}")
    click.echo("")
    for plugin in pm.get_plugins():
        hooks = sorted(h.name for h in pm.get_hookcallers(plugin) or [])
        click.echo(f"{pm.get_name(plugin)}: {', '.join(hooks)}")


@click.group()
def users():
    """Manage people."""


@users.command("create")
@click.argument("username")
@click.option("--email", help="Email address.")
@click.option("--password", help="Password (prompted for when --prompt is given).")
@click.option("--prompt", is_flag=True, help="Ask for the password without echoing it.")
@click.option("--role", default="viewer", show_default=True,
              type=click.Choice(["viewer", "publisher", "administrator"]))
@click.option("--first-name", default="")
@click.option("--last-name", default="")
@with_appcontext
def users_create(username, email, password, prompt, role, first_name, last_name):
    """Create a person (without a password: a confirmation link is printed)."""
    from .accounts import create_user
    from .links import make_link
    if prompt:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    with _db().connection_context():
        try:
            user = create_user(username, email, password, first_name=first_name, last_name=last_name,
                               role=role, email_verified=True)
        except ServiceError as e:
            _fail(e)
        click.echo(f"Created {user.username} (id {user.id}, {user.role}).")
        if password is None:
            click.echo(f"Confirmation link (valid 7 days): {make_link(user, 'confirm')}")


@users.command("list")
@click.option("--search", "-q", default="", help="Filter by username, email or name.")
@click.option("--page", default=1, type=click.IntRange(1))
@click.option("--per-page", default=50, type=click.IntRange(1, 1000))
@with_appcontext
def users_list(search, page, per_page):
    """List people."""
    from .accounts import search_users
    from .models import iso
    with _db().connection_context():
        rows, total = search_users(search, page, per_page)
        click.echo(f"{'id':>6}  {'username':20} {'role':13} {'status':11} {'email':30} last login")
        for u in rows:
            click.echo(f"{u.id:>6}  {u.username:20} {u.role:13} {u.status:11} {u.email or '':30} "
                       f"{iso(u.last_login_at) or '-'}")
        click.echo(f"{total} in all (page {page}).")


def _user_arg(login):
    from .accounts import find_user_by_login, get_user
    from .errors import NotFound
    user = find_user_by_login(login)
    if user is None and login.isdigit():
        try:
            user = get_user(login)
        except NotFound:
            user = None
    if user is None:
        raise click.ClickException(f"no person named {login!r}")
    return user


@users.command("set-role")
@click.argument("username")
@click.argument("role", type=click.Choice(["viewer", "publisher", "administrator"]))
@with_appcontext
def users_set_role(username, role):
    """Change a person's role."""
    from .accounts import set_role
    with _db().connection_context():
        try:
            user = set_role(_user_arg(username), role)
        except ServiceError as e:
            _fail(e)
        click.echo(f"{user.username} is now {user.role}.")


@users.command("lock")
@click.argument("username")
@with_appcontext
def users_lock(username):
    """Lock a person: they cannot log in and their sessions and tokens end."""
    from .accounts import set_locked
    with _db().connection_context():
        try:
            user = set_locked(_user_arg(username), True)
        except ServiceError as e:
            _fail(e)
        click.echo(f"{user.username} is locked.")


@users.command("unlock")
@click.argument("username")
@with_appcontext
def users_unlock(username):
    """Unlock a person."""
    from .accounts import set_locked
    with _db().connection_context():
        try:
            user = set_locked(_user_arg(username), False)
        except ServiceError as e:
            _fail(e)
        click.echo(f"{user.username} is unlocked.")
