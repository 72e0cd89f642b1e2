"""The instance folder holds keystead.toml, the generated secret key and, by default, the
SQLite database with its -wal and -shm files: password hashes and the key that signs
every session and token. So at every start the folder is made 0700 and its files 0600,
whether they were just created or found so; the SQLite database is created 0600 wherever
it lives (SQLite gives its -wal and -shm files the database file's mode)."""
from __future__ import annotations

import logging
import os
import stat

log = logging.getLogger("keystead")

FOLDER_MODE = 0o700
FILE_MODE = 0o600


def _set_mode(path: str, mode: int) -> None:
    try:
        os.chmod(path, mode)
    except OSError as e:
        log.warning("could not make %s private (mode %o): %s", path, mode, e.strerror)


def make_private(folder: str) -> None:
    """The folder 0700 and every file directly in it 0600 (symbolic links are left alone:
    chmod would change what they point to). A failure is a warning, not a refusal."""
    _set_mode(folder, FOLDER_MODE)
    try:
        entries = list(os.scandir(folder))
    except OSError as e:
        log.warning("could not list %s to make its files private: %s", folder, e.strerror)
        return
    for entry in entries:
        try:
            mode = entry.stat(follow_symlinks=False).st_mode
        except OSError:
            continue
        if stat.S_ISREG(mode) and stat.S_IMODE(mode) != FILE_MODE:
            _set_mode(entry.path, FILE_MODE)


def private_database_file(path: str) -> None:
    """Create the SQLite file `path` 0600 before SQLite does (it would follow the umask),
    and make an existing one and its -wal and -shm files 0600."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
        return
    except FileExistsError:
        pass
    except OSError:
        return  # SQLite will say what is wrong with the path
    for name in (path, f"{path}-wal", f"{path}-shm"):
        try:
            mode = os.stat(name, follow_symlinks=False).st_mode
        except OSError:
            continue
        if stat.S_ISREG(mode) and stat.S_IMODE(mode) != FILE_MODE:
            _set_mode(name, FILE_MODE)
