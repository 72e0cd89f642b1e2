"""`keystead users ...`: manage people from the command line."""
from __future__ import annotations

import click
from flask.cli import with_appcontext

from ..errors import ServiceError
from .common import db_session, fail


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
    from ..accounts import create_user
    from ..links import make_link
    if prompt:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    with db_session():
        try:
            user = create_user(username, email, password, first_name=first_name, last_name=last_name,
                               role=role, email_verified=True)
        except ServiceError as e:
            fail(e)
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
    from ..accounts import search_users
    from ..models import iso
    with db_session():
        rows, total = search_users(search, page, per_page)
        click.echo(f"{'id':>6}  {'username':20} {'role':13} {'status':11} {'email':30} last login")
        for u in rows:
            click.echo(f"{u.id:>6}  {u.username:20} {u.role:13} {u.status:11} {u.email or '':30} "
                       f"{iso(u.last_login_at) or '-'}")
        click.echo(f"{total} in all (page {page}).")


def _user_arg(login):
    from ..accounts import find_user_by_login, get_user
    from ..errors import NotFound
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
    from ..accounts import set_role
    with db_session():
        try:
            user = set_role(_user_arg(username), role)
        except ServiceError as e:
            fail(e)
        click.echo(f"{user.username} is now {user.role}.")


@users.command("lock")
@click.argument("username")
@with_appcontext
def users_lock(username):
    """Lock a person: they cannot log in and their sessions and tokens end."""
    from ..accounts import set_locked
    with db_session():
        try:
            user = set_locked(_user_arg(username), True)
        except ServiceError as e:
            fail(e)
        click.echo(f"{user.username} is locked.")


@users.command("unlock")
@click.argument("username")
@with_appcontext
def users_unlock(username):
    """Unlock a person."""
    from ..accounts import set_locked
    with db_session():
        try:
            user = set_locked(_user_arg(username), False)
        except ServiceError as e:
            fail(e)
        click.echo(f"{user.username} is unlocked.")
