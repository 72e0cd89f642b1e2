"""`keystead invitations list | revoke ID`: the open invitations from the command line
(`keystead users invite FILE.csv` makes them), on the same service as the API and pages."""
from __future__ import annotations

import click
from flask.cli import with_appcontext

from ..errors import ServiceError
from .common import db_session, fail


@click.group()
def invitations():
    """List and revoke open invitations."""


@invitations.command("list")
@with_appcontext
def invitations_list():
    """The open invitations (id, email, role, groups, expiry, inviter), newest first."""
    from ..models import iso
    from ..signup import invitations as service
    with db_session():
        rows = service.list_open_invitations(None)
        for inv in rows:
            by = inv.created_by.username if inv.created_by_id else "command line"
            click.echo(f"{inv.id}\t{inv.email}\t{inv.role}\t{', '.join(service.group_names(inv)) or '-'}\t"
                       f"expires {iso(inv.expires_at)}\tby {by}")
        click.echo(f"{len(rows)} open invitation{'s' if len(rows) != 1 else ''}.")


@invitations.command("revoke")
@click.argument("invitation_id")
@with_appcontext
def invitations_revoke(invitation_id):
    """End an open invitation: its link stops working."""
    from ..signup import invitations as service
    with db_session():
        try:
            inv = service.revoke_invitation(None, invitation_id)
        except ServiceError as e:
            fail(e)
    click.echo(f"Revoked the invitation to {inv.email}.")
