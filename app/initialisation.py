"""Whether the database was ever initialised with an account, and what the server says at
start-up about a database without people.

Only a database that was never initialised hands out administrator to the first account
to sign up; the Bootstrap administrator is created only there too. Initialisation is a
row in `keystead_state`, recorded by the database itself (a trigger on "user",
m0015_initialised) when the first account of any kind appears: sign-up, `keystead init`,
the Bootstrap administrator, a first login through a provider, a row made by hand. Rows
can be lost (deleted, a restore gone wrong); the record stays, so a database that had
people and lost them never makes a stranger its administrator.
"""
from __future__ import annotations

import logging

from .models import User, database, utcnow

log = logging.getLogger("keystead")

STATE_TABLE = "keystead_state"
INITIALISED = "initialised_at"


def _now() -> str:
    return utcnow().replace(microsecond=0).isoformat() + "Z"


def is_initialised() -> bool:
    row = database.execute_sql(f"SELECT 1 FROM {STATE_TABLE} WHERE name = {database.param}",
                               (INITIALISED,)).fetchone()
    return row is not None


def claim_initialisation() -> bool:
    """Record initialisation; True only for the one caller that recorded it, False when it
    was there already. Call it in the transaction that creates the first account: two
    racing callers cannot both get True (the second waits for the first's transaction,
    and gets True only if that one rolled back)."""
    p = database.param
    cursor = database.execute_sql(
        f"INSERT INTO {STATE_TABLE} (name, value) VALUES ({p}, {p}) ON CONFLICT (name) DO NOTHING",
        (INITIALISED, _now()))
    return cursor.rowcount == 1


def people_and_initialisation() -> tuple[int, bool]:
    """(how many people there are, whether the database was ever initialised), in one read."""
    p = database.param
    row = database.execute_sql(
        f"SELECT (SELECT n FROM people_count WHERE id = 1), "
        f"(SELECT COUNT(*) FROM {STATE_TABLE} WHERE name = {p})", (INITIALISED,)).fetchone()
    count = row[0] if row[0] is not None else User.select().count()
    return count, bool(row[1])


def warn_about_lost_accounts(what: str) -> None:
    """Log that `what` (a sign-up...) did not get administrator: the database lost its people."""
    log.warning("%s: this database had accounts and holds none now; nobody is made an "
                "administrator for being first. Create one with `keystead init` (or `keystead users "
                "create --role administrator`).", what)


def report_people_at_start(*, schema_was_missing: bool, database_configured: bool,
                           key_from_earlier_start: bool, instance_path: str) -> None:
    """What the log says at start-up when the database holds nobody: loudly when it looks
    like the wrong database (a new, empty one where an earlier start had people)."""
    if schema_was_missing and database_configured:
        log.warning("Server.DatabaseURL names a database that had no Keystead tables: they were "
                    "created now and the database is empty. On a new deployment that is expected; "
                    "if this server had people before, it is not using their database: check "
                    "Server.DatabaseURL.")
    count, initialised = people_and_initialisation()
    if count:
        return
    if initialised:
        warn_about_lost_accounts("At start-up")
        return
    if key_from_earlier_start:
        log.warning("The instance folder %s has a secret key from an earlier start, but the "
                    "database holds no accounts and never did: if this server had people, it is "
                    "not using their database (check KEYSTEAD_INSTANCE and Server.DatabaseURL). "
                    "Until an account exists, the first person to sign up becomes an "
                    "administrator.", instance_path)
    else:
        log.info("The database holds no accounts yet: the first person to sign up becomes an "
                 "administrator, unless `keystead init` or Bootstrap.AdminPassword creates one first.")
