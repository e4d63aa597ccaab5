"""Loopback ports that belong to other runs, which no step may reach.

Loopback is always allowed (the demo calls the app itself), but the same loopback also holds what
the engine starts for other runs, of other projects: each browser session's Chromium listens for
DevTools on a loopback port, and whoever reaches it drives that browser (reads its pages, closes
them, makes its run pass). Commands and Chromium run as the command user, while the app, the
workers and their proxies run as the worker's user; so a loopback listener owned by the command
user is another run's, and a step is refused it. When there is no separate command user (the
worker is not root, or IB_COMMAND_AS_ROOT), there is nothing to tell them apart by: documented.

Read from the kernel's socket tables (/proc/net/tcp and tcp6), whose rows carry the owner's uid.
"""

from pathlib import Path

from runners.command_user import CommandUserError, command_user

_TABLES = (Path("/proc/net/tcp"), Path("/proc/net/tcp6"))
_LISTEN = "0A"


def held_by_another_run(port: int | None) -> bool:
    if port is None:
        return False
    try:
        user = command_user()
    except CommandUserError:
        return False  # no command user: nothing of another run can be listening as one
    if user is None:
        return False
    return user.uid in _listener_uids(port)


def _listener_uids(port: int) -> set[int]:
    uids = set()
    for table in _TABLES:
        try:
            rows = table.read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            # sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid ...
            if (
                len(fields) > 7
                and fields[3] == _LISTEN
                and int(fields[1].rsplit(":", 1)[1], 16) == port
            ):
                uids.add(int(fields[7]))
    return uids
