"""A command for tests that looks for the worker's secrets and prints what it found as JSON.

    python snoop.py <secret> [<file>]

Reports who it runs as, its own environment, whether it can read /proc/<parent>/environ (its
parent is the worker that started it), which environments under /proc it can read that hold
<secret>, and whether it can open <file> (the worker's SQLite database).
"""

import json
import os
import sys


def attempt(path: str) -> bytes | str:
    try:
        with open(path, "rb") as file:
            return file.read()
    except OSError as exc:
        return type(exc).__name__


secret = sys.argv[1].encode()
holding = []
for name in os.listdir("/proc"):
    if name.isdigit():
        found = attempt(f"/proc/{name}/environ")
        if isinstance(found, bytes) and secret in found:
            holding.append(int(name))
parent = attempt(f"/proc/{os.getppid()}/environ")
database = attempt(sys.argv[2]) if len(sys.argv) > 2 else "not asked"
print(
    json.dumps(
        {
            "uid": os.getuid(),
            "gid": os.getgid(),
            "groups": os.getgroups(),
            "parent": os.getppid(),
            "parent_environ": parent if isinstance(parent, str) else "read",
            "environ_holding_secret": holding,
            "database": database if isinstance(database, str) else "read",
            "env": dict(os.environ),
        }
    )
)
