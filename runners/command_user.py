"""Who the programs a run starts (commands, Chromium) run as, and what they get from the worker.

A command step ran as the worker's user, root included, and could read the worker's secrets in
/proc/<worker>/environ (security finding 2). Now, when the worker runs as root, they run as
IB_COMMAND_USER (default `nobody`) with no supplementary groups, unless IB_COMMAND_AS_ROOT is
true; a worker that is not root starts them as itself. Either way they get a small fresh
environment (`child_environment`), never the worker's, and a folder of their own that is HOME
and TMPDIR. What a command wrote is read back with `read_written_file`, which will not follow it
to a file of the worker's. Used by runners.actions.command and browser_session.
"""

import os
import pwd
import stat
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings


class CommandUserError(RuntimeError):
    """IB_COMMAND_USER names no usable account."""


@dataclass(frozen=True)
class CommandUser:
    name: str
    uid: int
    gid: int


def command_user() -> CommandUser | None:
    """The account to switch to, or None: stay the worker's user (it is not root, or
    IB_COMMAND_AS_ROOT says to run as root). Raises CommandUserError rather than fall back to
    root when the configured account is missing."""
    if os.geteuid() != 0 or settings.IB_COMMAND_AS_ROOT:
        return None
    name = settings.IB_COMMAND_USER
    try:
        entry = pwd.getpwuid(int(name)) if name.isdigit() else pwd.getpwnam(name)
    except KeyError:
        raise CommandUserError(f"IB_COMMAND_USER names no user on this host: {name!r}.") from None
    if entry.pw_uid == 0:
        raise CommandUserError(
            "IB_COMMAND_USER is root; set IB_COMMAND_AS_ROOT=true to run commands as root."
        )
    return CommandUser(entry.pw_name, entry.pw_uid, entry.pw_gid)


def popen_identity(user: CommandUser | None) -> dict:
    """subprocess.Popen arguments that start the child as `user` (no groups of the worker's)."""
    return {} if user is None else {"user": user.uid, "group": user.gid, "extra_groups": []}


def hand_over(folder: str | os.PathLike, user: CommandUser | None) -> None:
    """Give `folder` and what the worker put in it to `user`, so the program can write there."""
    if user is None:
        return
    for root, folders, files in os.walk(folder):
        for name in [root, *(os.path.join(root, f) for f in folders + files)]:
            os.chown(name, user.uid, user.gid, follow_symlinks=False)


def child_environment(home: str, user: CommandUser | None, extra: dict[str, str]) -> dict:
    """The whole environment of a started program: this allow-list, then `extra` (a runner
    profile's `env`). Nothing of the worker's but PATH: the rest holds DATABASE_URL, SECRET_KEY."""
    name = user.name if user else pwd.getpwuid(os.geteuid()).pw_name
    return {
        "PATH": os.environ.get("PATH", os.defpath),
        "HOME": home,
        "TMPDIR": home,
        "USER": name,
        "LOGNAME": name,
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
        **extra,
    }


def read_written_file(path: Path, user: CommandUser | None, limit: int) -> bytes:
    """The bytes of a regular file a started program wrote (its JUnit XML), read with the
    worker's rights but only if the program could have read it itself: a symbolic link as the
    last part is not followed, a FIFO or device is refused (O_NONBLOCK: opening one never
    waits), and after a switch of user the file must belong to that user, so a link to a file
    of the worker's (/proc/<pid>/environ, a key) is refused. Raises OSError or ValueError."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as file:
        found = os.fstat(file.fileno())
        if not stat.S_ISREG(found.st_mode):
            raise ValueError(f"{path.name} is not a regular file.")
        if user is not None and found.st_uid != user.uid:
            raise ValueError(f"{path.name} does not belong to {user.name}, who ran the command.")
        if found.st_size > limit:
            raise ValueError(f"{path.name} is larger than {limit // (1024 * 1024)} MiB.")
        return file.read(limit + 1)[:limit]
