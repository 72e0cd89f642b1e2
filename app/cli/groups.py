"""`keystead groups ...`: manage groups from the command line, on the same service
functions as the admin pages and the API. A refusal is one line on stderr and exit 1."""
from __future__ import annotations

import click
from flask.cli import with_appcontext

from ..errors import ServiceError
from .common import db_session, fail


@click.group()
def groups():
    """Manage groups."""


def _group_arg(name):
    from ..groups import find_group
    try:
        return find_group(name)
    except ServiceError as e:
        fail(e)


@groups.command("create")
@click.argument("name")
@with_appcontext
def groups_create(name):
    """Create a group (names are unique, whatever their case)."""
    from ..groups import create_group
    with db_session():
        try:
            group = create_group(name)
        except ServiceError as e:
            fail(e)
        click.echo(f"Created the group {group.name} (id {group.id}).")


@groups.command("list")
@click.option("--search", "-q", default="", help="Part of a group name.")
@click.option("--page", default=1, type=click.IntRange(1))
@click.option("--per-page", default=50, type=click.IntRange(1, 1000))
@with_appcontext
def groups_list(search, page, per_page):
    """List groups with their member counts."""
    from ..groups import list_groups
    with db_session():
        rows, total = list_groups(search, page, per_page)
        click.echo(f"{'id':>6}  {'name':40} members")
        for group, count in rows:
            click.echo(f"{group.id:>6}  {group.name:40} {count}")
        click.echo(f"{total} in all (page {page}).")


@groups.command("members")
@click.argument("group")
@click.option("--page", default=1, type=click.IntRange(1))
@click.option("--per-page", default=100, type=click.IntRange(1, 1000))
@with_appcontext
def groups_members(group, page, per_page):
    """List the members of a group."""
    from ..groups import members_of
    with db_session():
        g = _group_arg(group)
        rows, total = members_of(g, page, per_page)
        for user in rows:
            click.echo(f"{user.id:>6}  {user.username:20} {user.email or ''}")
        click.echo(f"{total} members of {g.name} (page {page}).")


@groups.command("add")
@click.argument("group")
@click.argument("people", nargs=-1, required=True)
@with_appcontext
def groups_add(group, people):
    """Add people (usernames, emails or ids) to a group; all of them or none."""
    from ..groups import add_member
    from ..models import database
    from .users import _user_arg
    with db_session():
        g = _group_arg(group)
        found = [_user_arg(p) for p in people]  # every name must exist before any change
        with database.atomic():
            for user in found:
                added = add_member(g, user)
                click.echo(f"{user.username} {'is now' if added else 'already was'} a member of {g.name}.")


@groups.command("remove")
@click.argument("group")
@click.argument("people", nargs=-1, required=True)
@with_appcontext
def groups_remove(group, people):
    """Take people out of a group; all of them or none."""
    from ..groups import remove_member
    from ..models import database
    from .users import _user_arg
    with db_session():
        g = _group_arg(group)
        found = [_user_arg(p) for p in people]
        try:
            with database.atomic():
                for user in found:
                    remove_member(g, user)
        except ServiceError as e:
            fail(e)
        for user in found:
            click.echo(f"{user.username} is no longer a member of {g.name}.")


@groups.command("roles")
@click.argument("group")
@click.argument("roles", nargs=-1)
@click.option("--none", "clear", is_flag=True, help="Take every role away from the group.")
@with_appcontext
def groups_roles(group, roles, clear):
    """Show a group's roles, or set them (replacing the old ones): every member holds them
    while a member. Roles are built-in (viewer, publisher, administrator) or custom
    (Authorization.Roles)."""
    from ..authorization.group_roles import roles_of_group, set_group_roles
    with db_session():
        g = _group_arg(group)
        if roles and clear:
            raise click.UsageError("give roles or --none, not both")
        if roles or clear:
            try:
                set_group_roles(g, list(roles))
            except ServiceError as e:
                fail(e)
        current = roles_of_group(g)
        click.echo(f"{g.name}: {', '.join(current) if current else 'no roles'}.")


@groups.command("rename")
@click.argument("group")
@click.argument("new_name")
@with_appcontext
def groups_rename(group, new_name):
    """Rename a group."""
    from ..groups import rename_group
    with db_session():
        g = _group_arg(group)
        try:
            renamed = rename_group(g, new_name)
        except ServiceError as e:
            fail(e)
        click.echo(f"The group {g.name} is now called {renamed.name}.")


@groups.command("delete")
@click.argument("group")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@with_appcontext
def groups_delete(group, yes):
    """Delete a group and its memberships (the people stay)."""
    from ..groups import delete_group, member_count
    with db_session():
        g = _group_arg(group)
        if not yes:
            click.confirm(f"Delete the group {g.name} ({member_count(g)} members)?", abort=True)
        delete_group(g)
        click.echo(f"The group {g.name} has been deleted.")
