"""A command for tests that leaves a process behind the way a daemon does: its child starts a
session of its own (setsid) and forks a grandchild that outlives it, which a kill of the step's
process group never reaches. The grandchild writes its pid to <folder>/pid and appends to
<folder>/beat every 20 ms, for as long as it lives (or until <folder> is removed); the command
itself writes its pid to <folder>/leader and waits.

    python escaper.py <folder>          the grandchild keeps IB_COMMAND_STEP in its environment
    python escaper.py <folder> scrub    the grandchild execs with an empty environment
"""

import os
import sys
import time


def write_pid(folder: str, name: str) -> None:
    with open(os.path.join(folder, f"{name}.new"), "w") as file:
        file.write(str(os.getpid()))
    os.rename(os.path.join(folder, f"{name}.new"), os.path.join(folder, name))  # never half-read


def beat(folder: str) -> None:
    write_pid(folder, "pid")
    while True:
        with open(os.path.join(folder, "beat"), "a") as file:
            file.write(".")
        time.sleep(0.02)


def escape(folder: str, scrub: bool) -> None:
    write_pid(folder, "leader")
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            if scrub:
                os.execve(sys.executable, [sys.executable, __file__, folder, "beat"], {})
            beat(folder)
        os._exit(0)  # the grandchild is an orphan from here on
    time.sleep(120)


if __name__ == "__main__":
    if sys.argv[2:] == ["beat"]:
        beat(sys.argv[1])
    else:
        escape(sys.argv[1], sys.argv[2:] == ["scrub"])
