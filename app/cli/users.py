"""`keystead users ...`: manage people from the command line, on the same service functions
as the admin pages and the API. A refusal is one line on stderr and exit status 1."""
from __future__ import annotations

import csv
import io
import sys

import click
from flask.cli import with_appcontext

from ..errors import ServiceError
from .common import db_session, fail, private_new_file

IMPORT_COLUMNS = ("username", "email", "first_name", "last_name", "role", "password")


@click.group()
def users():
    """Manage people."""


@users.command("create")
@click.argument("username")
@click.option("--email", help="Email address.")
@click.option("--password", help="Password (prompted for when --prompt is given).")
@click.option("--prompt", is_flag=True, help="Ask for the password without echoing it.")
@click.option("--role", default="viewer", show_default=True,
              help="viewer, publisher, administrator or a custom role of Authorization.Roles.")
@click.option("--first-name", default="")
@click.option("--last-name", default="")
@with_appcontext
def users_create(username, email, password, prompt, role, first_name, last_name):
    """Create a person (without a password: a confirmation link is printed, and mailed when
    Email is configured)."""
    from ..recovery import create_person
    _check_role(role, "--role")
    if prompt:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    with db_session():
        try:
            user, url, sent = create_person(username, email, password, first_name=first_name,
                                            last_name=last_name, role=role)
        except ServiceError as e:
            fail(e)
        click.echo(f"Created {user.username} (id {user.id}, {user.role}).")
        if url:
            click.echo(f"Confirmation link (valid 7 days, single use): {url}")
            if sent:
                click.echo(f"It has been mailed to {user.email}.")


@users.command("list")
@click.option("--search", "-q", default="", help="Username, email, first or last name beginning with each word.")
@click.option("--page", default=1, type=click.IntRange(1))
@click.option("--per-page", default=50, type=click.IntRange(1, 1000))
@with_appcontext
def users_list(search, page, per_page):
    """List people, by username."""
    from ..accounts import search_users
    from ..models import iso
    with db_session():
        rows, total = search_users(search, page, per_page)
        click.echo(f"{'id':>6}  {'username':20} {'role':13} {'status':11} {'email':30} last login")
        for u in rows:
            click.echo(f"{u.id:>6}  {u.username:20} {u.role:13} {u.account_state:11} {u.email or '':30} "
                       f"{iso(u.last_login_at) or '-'}")
        click.echo(f"{total} in all (page {page}).")  # "10000+" when capped


def _user_arg(login):
    """The person named by username, email or id; one line and exit 1 when there is none."""
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


def _change(username: str, change, done: str) -> None:
    """Apply `change` to the person named `username` and say `done` (formatted with the
    changed person), or fail with the one-line reason."""
    with db_session():
        try:
            user = change(_user_arg(username))
        except ServiceError as e:
            fail(e)
        click.echo(done.format(user))


@users.command("show")
@click.argument("username")
@with_appcontext
def users_show(username):
    """Everything about a person: names, address, role, status, provider, password, second
    factor, groups, login lockout and API keys (never a secret)."""
    from ..apikeys import list_api_keys
    from ..groups import groups_of_user
    from ..models import LoginThrottle, iso
    from ..throttle import account_throttle_key, seconds_locked
    from ..totp import totp_enabled
    with db_session():
        user = _user_arg(username)
        key = account_throttle_key(user)
        throttle = LoginThrottle.get_or_none(LoginThrottle.key == key)
        locked_for = seconds_locked(key)
        keys = list_api_keys(user)
        facts = [
            ("id", user.id),
            ("username", user.username),
            ("name", user.full_name or "-"),
            ("email", (f"{user.email} ({'verified' if user.email_verified else 'not verified'})"
                       if user.email else "-")),
            ("role", user.role),
            ("status", user.account_state),
            ("provider", user.provider),
            ("password", "set" if user.password_hash else "not set"),
            ("two-factor", "on" if totp_enabled(user) else "off"),
            ("groups", ", ".join(g.name for g in groups_of_user(user)) or "-"),
            ("created", iso(user.created_at)),
            ("last login", iso(user.last_login_at) or "never"),
            ("login lockout", (f"locked out for {locked_for} more seconds after failed logins "
                               f"(`keystead users unlock {user.username}` ends it)") if locked_for else "no"),
            ("failed logins", f"{throttle.failures if throttle else 0} since the last success or lockout"),
            ("API keys", len(keys)),
        ]
        from ..userfields.values import as_text, visible_fields
        facts += [(f"field:{name}", as_text(value) or "-")
                  for name, value in visible_fields(None, user).items()]  # custom profile fields
        for label, value in facts:
            click.echo(f"{label + ':':15} {value}")
        for k in keys:
            click.echo(f"  key {k.id}: {k.name} (created {iso(k.created_at)}, "
                       f"last used {iso(k.last_used_at) or 'never'})")


@users.command("set-password")
@click.argument("username")
@click.option("--prompt", is_flag=True, help="Ask for the password without echoing it (twice).")
@with_appcontext
def users_set_password(username, prompt):
    """Set a person's password (asked for with --prompt, never given on the command line,
    where it would stay in the shell's history). Their sessions and tokens end."""
    from ..accounts import require_password_provider, set_password
    from ..errors import Conflict
    if not prompt:
        raise click.UsageError("give --prompt: the password is asked for, never taken from the "
                               "command line")
    with db_session():
        user = _user_arg(username)
        try:
            require_password_provider(user)
        except Conflict:
            raise click.ClickException(f"{user.username} signs in through {user.provider}; "
                                       "their password is not kept here") from None
        password = click.prompt(f"New password for {user.username}", hide_input=True,
                                confirmation_prompt=True, err=True)
        try:
            set_password(user, password, event="password_reset", details={"via": "cli"})
        except ServiceError as e:
            fail(e)
        click.echo(f"The password of {user.username} is set; their sessions and tokens have ended.")


@users.command("set-role")
@click.argument("username")
@click.argument("role")
@with_appcontext
def users_set_role(username, role):
    """Change a person's role (built-in or custom: Authorization.Roles)."""
    from ..accounts import set_role
    _check_role(role, "ROLE")
    _change(username, lambda user: set_role(user, role), "{0.username} is now {0.role}.")


def _check_role(role: str, hint: str) -> None:
    """A usage error (exit 2) for a role that is neither built in nor in Authorization.Roles."""
    from ..authorization import roles_problem
    if problem := roles_problem([role]):
        raise click.BadParameter(problem, param_hint=hint)


@users.command("lock")
@click.argument("username")
@with_appcontext
def users_lock(username):
    """Lock a person: they cannot log in, their sessions and tokens end and their API keys
    are revoked (unlocking does not bring the keys back)."""
    from ..accounts import set_locked
    _change(username, lambda user: set_locked(user, True),
            "{0.username} is locked; their sessions, tokens and API keys have ended.")


@users.command("unlock")
@click.argument("username")
@with_appcontext
def users_unlock(username):
    """Unlock a person."""
    from ..accounts import set_locked
    _change(username, lambda user: set_locked(user, False), "{0.username} is unlocked.")


@users.command("keys")
@click.argument("username")
@with_appcontext
def users_keys(username):
    """List a person's personal API keys (never the keys themselves)."""
    from ..apikeys import list_api_keys
    from ..models import iso
    with db_session():
        user = _user_arg(username)
        keys = list_api_keys(user)
        if not keys:
            click.echo(f"{user.username} has no API keys.")
            return
        click.echo(f"{'id':>6}  {'name':30} {'created':20} last used")
        for k in keys:
            click.echo(f"{k.id:>6}  {k.name:30} {iso(k.created_at):20} {iso(k.last_used_at) or 'never'}")


@users.command("revoke-key")
@click.argument("username")
@click.argument("key_id")
@with_appcontext
def users_revoke_key(username, key_id):
    """Revoke one of a person's API keys (KEY_ID from `keystead users keys`)."""
    from ..apikeys import revoke_api_key
    with db_session():
        user = _user_arg(username)
        try:
            record = revoke_api_key(user, key_id, actor=None)
        except ServiceError as e:
            fail(e)
        click.echo(f"Revoked the API key {record.id} ({record.name}) of {user.username}.")


@users.command("reset-link")
@click.argument("username")
@with_appcontext
def users_reset_link(username):
    """Print a fresh single-use link for a person to set their password (mailed too when
    Email is configured): a confirmation link (7 days) for someone who has never set one,
    else a reset link (1 hour). Earlier unused links end."""
    from ..accounts import require_password_provider
    from ..errors import Conflict
    from ..recovery import send_confirmation_email, send_reset_email
    with db_session():
        user = _user_arg(username)
        try:
            require_password_provider(user)
        except Conflict:
            raise click.ClickException(f"{user.username} signs in through {user.provider}; "
                                       "their password is not kept here") from None
        if user.password_hash is None:
            url, sent = send_confirmation_email(user)
            click.echo(f"Confirmation link for {user.username} (valid 7 days, single use): {url}")
        else:
            url, sent = send_reset_email(user)
            click.echo(f"Reset link for {user.username} (valid 1 hour, single use): {url}")
        if sent:
            click.echo(f"It has been mailed to {user.email}.")


@users.command("verification-link")
@click.argument("username")
@with_appcontext
def users_verification_link(username):
    """Print a fresh email verification link (24 hours, single use; mailed too when Email is
    configured) for a person whose address is not verified, to pass on to them."""
    from ..recovery import make_verification_link
    with db_session():
        user = _user_arg(username)
        try:
            url, sent = make_verification_link(user)
        except ServiceError as e:
            fail(e)
        click.echo(f"Verification link for {user.username} (valid 24 hours, single use): {url}")
        if sent:
            click.echo(f"It has been mailed to {user.email}.")


@users.command("mark-verified")
@click.argument("username")
@with_appcontext
def users_mark_verified(username):
    """Vouch for a person's email address without a link (recorded in the audit log)."""
    from ..accounts import mark_email_verified
    _change(username, lambda user: mark_email_verified(None, user),
            "The address {0.email} of {0.username} is marked verified.")


@users.command("delete")
@click.argument("username")
@click.option("--transfer-to", "transfer_to", metavar="PERSON",
              help="Give the person's documents to PERSON (username, email or id) instead of "
                   "deleting them.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@with_appcontext
def users_delete(username, transfer_to, yes):
    """Delete a person with their memberships, tokens and links, and their documents (those
    shared with groups too) unless --transfer-to gives the documents to someone else."""
    from ..accounts import delete_user, transfer_recipient
    from ..documents.service import owned_counts
    with db_session():
        user = _user_arg(username)
        try:
            recipient = transfer_recipient(transfer_to, field="--transfer-to")
        except ServiceError as e:
            fail(e)
        owned, shared = owned_counts(user)
        if not owned:
            fate = ""
        elif recipient is not None:
            fate = f"Their {_documents(owned)} now belong to {recipient.username}."
        else:
            fate = f"Their {_documents(owned)} ({shared} shared with groups) are deleted with them."
        if not yes:
            question = f"Delete {user.username} ({user.email or 'no email'})?"
            if owned:
                question += " " + (f"Their {_documents(owned)} go to {recipient.username}." if recipient else
                                   f"Their {_documents(owned)} ({shared} shared with groups) are deleted too.")
            click.confirm(question, abort=True)
        try:
            delete_user(user, transfer_to=recipient)
        except ServiceError as e:
            fail(e)
        click.echo(f"{user.username} has been deleted.")
        if fate:
            click.echo(fate)


def _documents(n: int) -> str:
    return f"{n} document{'s' if n != 1 else ''}"


# ---------------------------------------------------------------- import

class _BadBatch(Exception):
    """Raised inside a batch's transaction to roll all of it back."""


def read_import_rows(text: str) -> list[tuple[int, dict]]:
    """(line number, row) for each data row of a CSV with a header line naming columns
    among IMPORT_COLUMNS (username required). ClickException for an unusable header."""
    from ..userfields.csvcolumns import field_columns
    columns = (*IMPORT_COLUMNS, *field_columns())  # field:<name> for each custom field
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [h.strip() for h in (reader.fieldnames or [])]
    if not header:
        raise click.ClickException("the file is empty: the first line must name the columns "
                                   f"({','.join(columns)})")
    unknown = [h for h in header if h not in columns]
    if unknown or "username" not in header or len(set(header)) != len(header):
        raise click.ClickException(f"line 1: the columns must be among {','.join(columns)} "
                                   f"(username required, each once); found {','.join(header)}")
    reader.fieldnames = header
    # The line a row ends on (a quoted field may span lines); blank lines are skipped.
    return [(reader.line_num, row) for row in reader]


def import_batch(batch: list[tuple[int, dict]]) -> list[tuple[int, str]]:
    """Create every person of `batch` in one transaction, or none of them: the problems of
    each bad row, by line number (an empty list when all were created)."""
    from ..accounts import create_user
    from ..models import database
    from ..userfields.csvcolumns import column_of, row_fields, unquote_cell
    from ..userfields.service import create_with_fields
    problems: list[tuple[int, str]] = []
    try:
        with database.atomic():
            for line, row in batch:
                if None in row:  # more fields than columns
                    problems.append((line, "more fields than the header has columns"))
                    continue
                # (A cell an export quoted against spreadsheet formulas is read back as it was.)
                values = {k: unquote_cell((v or "").strip()) for k, v in row.items() if k != "password"}
                password = row.get("password") or None
                try:
                    with database.atomic():  # a savepoint: a refused row leaves nothing behind
                        create_with_fields(lambda columns: create_user(
                            values.get("username", ""), values.get("email") or None, password,
                            first_name=values.get("first_name", ""), last_name=values.get("last_name", ""),
                            role=values.get("role") or "viewer", email_verified=True, columns=columns),
                            row_fields(row), signup=False)
                except ServiceError as e:
                    detail = ("; ".join(f"{column_of(k)}: {v}" for k, v in e.fields.items())
                              if e.fields else e.message)
                    problems.append((line, detail))
            if problems:
                raise _BadBatch()
    except _BadBatch:
        pass
    return problems


@users.command("import")
@click.argument("file", type=click.File("r", encoding="utf-8-sig"))
@click.option("--batch-size", default=500, show_default=True, type=click.IntRange(1, 100_000),
              help="People created per transaction: a bad row stops its whole batch.")
@with_appcontext
def users_import(file, batch_size):
    """Create people from a CSV file with a header line naming its columns: username, and
    any of email, first_name, last_name, role, password and field:<name> for a custom
    profile field (the columns `keystead users export` writes; people without a password get
    confirmation links from `keystead users reset-link` or their page). Each batch is one
    transaction: a bad row is reported with its line number and nothing of its batch is
    created. Exits 1 when any row was bad."""
    try:
        text = file.read()
    except UnicodeDecodeError:
        raise click.ClickException("the file is not UTF-8 text") from None
    rows = read_import_rows(text)
    created = no_password = bad = 0
    refused: list[str] = []
    with db_session():
        with click.progressbar(length=len(rows), label="Importing",
                               file=sys.stderr) as bar:
            for start in range(0, len(rows), batch_size):
                batch = rows[start:start + batch_size]
                problems = import_batch(batch)
                if problems:
                    bad += len(problems)
                    refused += [f"line {line}: {detail}" for line, detail in problems]
                    refused.append(f"lines {batch[0][0]}-{batch[-1][0]}: nobody of this batch "
                                   "was created")
                else:
                    created += len(batch)
                    no_password += sum(1 for _, row in batch if not row.get("password"))
                bar.update(len(batch))
    for message in refused:
        click.echo(message, err=True)
    click.echo(f"Created {created} of {len(rows)} people.")
    if no_password:
        click.echo(f"{no_password} have no password yet: give each a link from "
                   "`keystead users reset-link USERNAME` or their page under /admin/people.")
    if bad:
        raise click.ClickException(f"{bad} bad row{'s' if bad != 1 else ''}; "
                                   "nobody of their batches was created")


# ---------------------------------------------------------------- invite

INVITE_COLUMNS = ("email", "role", "groups")


def read_invite_rows(text: str) -> list[tuple[int, dict]]:
    """(line number, row) for each data row of a CSV whose header names columns among
    INVITE_COLUMNS (email required). ClickException for an unusable header."""
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [h.strip() for h in (reader.fieldnames or [])]
    unknown = [h for h in header if h not in INVITE_COLUMNS]
    if not header or unknown or "email" not in header or len(set(header)) != len(header):
        hint = " (invitees choose their own usernames)" if "username" in unknown else ""
        raise click.ClickException(f"line 1: the columns must be among {','.join(INVITE_COLUMNS)} "
                                   f"(email required, each once); found {','.join(header) or 'nothing'}{hint}")
    reader.fieldnames = header
    return [(reader.line_num, row) for row in reader]


def invite_batch(batch: list[tuple[int, dict]]) -> tuple[list[tuple[object, str]], list[tuple[int, str]]]:
    """Make an invitation (7 days, single use) for every row of `batch`, with its role and
    groups, in one transaction, or none: ([(invitation, link)], []) or ([], the problems of
    each bad row by line number)."""
    from ..models import database
    from ..signup.invitations import create_invitation
    made, problems = [], []
    try:
        with database.atomic():
            for line, row in batch:
                if None in row:
                    problems.append((line, "more fields than the header has columns"))
                    continue
                values = {k: (v or "").strip() for k, v in row.items()}
                if not values.get("email"):
                    problems.append((line, "email: an invitation needs an address"))
                    continue
                try:
                    with database.atomic():  # a savepoint: a refused row leaves nothing behind
                        made.append(create_invitation(None, values["email"], values.get("role") or None,
                                                      values.get("groups", "").split(";")))
                except ServiceError as e:
                    detail = "; ".join(f"{k}: {v}" for k, v in e.fields.items()) if e.fields else e.message
                    problems.append((line, detail))
            if problems:
                raise _BadBatch()
    except _BadBatch:
        return [], problems
    return made, []


@users.command("invite")
@click.argument("file", type=click.File("r", encoding="utf-8-sig"))
@click.option("--links-out", type=click.Path(dir_okay=False),
              help="Write email,link,expires_at of every invitation to this new file (made 0600: "
                   "the links are secrets). Needed when Email is not configured.")
@click.option("--batch-size", default=500, show_default=True, type=click.IntRange(1, 100_000),
              help="Invitations made per transaction: a bad row stops its whole batch.")
@with_appcontext
def users_invite(file, links_out, batch_size):
    """Invite people from a CSV file with a header line naming its columns: email, and any
    of role (default Authorization.DefaultUserRole) and groups (existing group names
    separated by ";"). Each row becomes an invitation whose link (valid 7 days, single use)
    lets the person choose a username and password, mailed when Email is configured. Each
    batch is one transaction: a bad row is reported with its line number and nothing of
    its batch is made. Exits 1 when any row was bad."""
    from ..mail import mail_configured
    from ..models import iso
    from ..signup.invitations import send_invitation_mail
    mailing = mail_configured()
    if not mailing and not links_out:
        raise click.UsageError("Email is not configured: give --links-out FILE to write the "
                               "invitation links to")
    try:
        text = file.read()
    except UnicodeDecodeError:
        raise click.ClickException("the file is not UTF-8 text") from None
    rows = read_invite_rows(text)
    out = private_new_file(links_out, "a new file for the links") if links_out else None
    writer = csv.writer(out) if out else None
    if writer:
        writer.writerow(["email", "link", "expires_at"])
    invited = mailed = bad = 0
    refused: list[str] = []
    try:
        with db_session():
            with click.progressbar(length=len(rows), label="Inviting", file=sys.stderr) as bar:
                for start in range(0, len(rows), batch_size):
                    batch = rows[start:start + batch_size]
                    made, problems = invite_batch(batch)
                    if problems:
                        bad += len(problems)
                        refused += [f"line {line}: {detail}" for line, detail in problems]
                        refused.append(f"lines {batch[0][0]}-{batch[-1][0]}: nobody of this batch "
                                       "was invited")
                    for invitation, url in made:
                        invited += 1
                        if writer:
                            writer.writerow([invitation.email, url, iso(invitation.expires_at)])
                        if mailing and send_invitation_mail(invitation, url):
                            mailed += 1
                        elif mailing:
                            refused.append(f"the invitation could not be mailed to {invitation.email}"
                                           + (" (its link is in the links file)" if writer else
                                              "; invite the address again to make a new one"))
                    bar.update(len(batch))
    finally:
        if out:
            out.close()
    for message in refused:
        click.echo(message, err=True)
    click.echo(f"Invited {invited} of {len(rows)} people; {mailed} links mailed.")
    if links_out:
        click.echo(f"The links are in {links_out} (keep it private, delete it once they are handed out).")
    if bad:
        raise click.ClickException(f"{bad} bad row{'s' if bad != 1 else ''}; "
                                   "nobody of their batches was invited")


# ---------------------------------------------------------------- sign-up approval

@users.command("pending")
@click.option("--page", default=1, type=click.IntRange(1))
@click.option("--per-page", default=50, type=click.IntRange(1, 1000))
@with_appcontext
def users_pending(page, per_page):
    """List sign-ups waiting for approval (Password.SignupApproval), by username."""
    from ..accounts import search_users
    from ..models import iso
    from ..signup.approval import PENDING
    with db_session():
        rows, total = search_users("", page, per_page, status=PENDING)
        click.echo(f"{'id':>6}  {'username':20} {'email':30} {'provider':10} signed up")
        for u in rows:
            click.echo(f"{u.id:>6}  {u.username:20} {u.email or '':30} {u.provider:10} {iso(u.created_at)}")
        click.echo(f"{total} waiting for approval (page {page}).")


@users.command("approve")
@click.argument("username")
@with_appcontext
def users_approve(username):
    """Approve a pending sign-up: the person can log in, and is mailed."""
    from ..signup.approval import approve
    _change(username, lambda user: approve(None, user), "{0.username} is approved and can log in now.")


@users.command("reject")
@click.argument("username")
@with_appcontext
def users_reject(username):
    """Reject a pending sign-up: the person cannot log in, and is mailed."""
    from ..signup.approval import reject
    _change(username, lambda user: reject(None, user), "{0.username}'s sign-up is rejected.")


from .users_export import users_export  # noqa: E402  (its own module: the CSV export)

users.add_command(users_export)
