"""core.processes.die_with_parent in real processes: a child ends with its parent, and a
child whose parent ended before it could ask ends at once."""

import multiprocessing
import os
import signal

from core.processes import die_with_parent
from tests.live import still_running, wait_until

fork = multiprocessing.get_context("fork")


def parent_of_a_watched_child(conn) -> None:
    child = fork.Process(target=watched_child, args=(os.getpid(),))
    child.start()
    conn.send(child.pid)
    conn.recv()  # until the test kills this process


def watched_child(parent_pid: int) -> None:
    die_with_parent(parent_pid)
    signal.pause()


def start_time(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rpartition(")")[2].split()[19])


def test_a_child_ends_when_its_parent_is_killed():
    ours, theirs = fork.Pipe()
    parent = fork.Process(target=parent_of_a_watched_child, args=(theirs,))
    parent.start()
    child = ours.recv()
    watched = {child: start_time(child)}

    os.kill(parent.pid, signal.SIGKILL)
    parent.join(5)

    wait_until(lambda: not still_running(watched), timeout=5, what="the child to end")


def test_a_child_whose_parent_is_already_gone_ends_at_once():
    # The parent pid the child was given is not its parent: as if the parent died before the prctl.
    child = fork.Process(target=watched_child, args=(os.getpid() + 1_000_000,))
    child.start()
    child.join(5)
    assert child.exitcode == -signal.SIGKILL
