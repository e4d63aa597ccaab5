"""Everything a step started, and how all of it dies: a process tree, not a process group.

A command's descendants can leave its process group and session (`setsid`, a daemon's double
fork), so killing the group missed them (security finding 5). What closes that:

- While a step runs, the process running it (a qcluster worker, `run --here`) is a child
  subreaper (prctl PR_SET_CHILD_SUBREAPER): a descendant orphaned by its parent's exit is
  re-parented to it rather than to init, so it stays in its tree. Only while a step runs: the
  worker reaps the step's orphans, and nobody would reap the others (a host process such as a
  test run would collect zombies of whatever it stops).
- Every process of a step carries `IB_COMMAND_STEP=<owner pid>.<owner start>.<random>` in its
  environment. A process may clear it, but then it is still in the tree; the marker is what
  finds the leftovers of a worker that was killed (`sweep_orphans`, run as a worker starts).
- The step's direct child gets PR_SET_PDEATHSIG: if the worker dies, the kernel kills it.

A step's members are its direct child, every child the worker gained since the step started (a
worker process runs one step at a time), every process carrying its marker, and all their
descendants. `kill()` SIGKILLs members until none is left alive; `reap()` then collects the ones
that ended as the worker's zombies. A kill goes through a pidfd after checking the process's
start time, so a pid that was reused in between is never hit. Linux only: /proc, prctl, pidfd.
Used by runners.actions.command.
"""

import contextlib
import logging
import os
import secrets
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from core.processes import die_with_parent, set_child_subreaper

log = logging.getLogger(__name__)

MARKER = "IB_COMMAND_STEP"
_DEAD = ("Z", "X")
# SIGKILL is delivered at once, except to a process stuck in the kernel (a hung NFS read):
# give up on those after this long rather than hold the worker.
_KILL_DEADLINE_SECONDS = 5.0


@dataclass(frozen=True)
class Proc:
    pid: int
    ppid: int
    state: str
    started: int  # clock ticks after boot: with the pid, it names one process for good


def read_proc(pid: int) -> Proc | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text.rpartition(")")[2].split()  # the command name may hold spaces and ')'
    return Proc(pid, int(fields[1]), fields[0], int(fields[19]))


def process_table() -> dict[int, Proc]:
    procs = (read_proc(int(name)) for name in os.listdir("/proc") if name.isdigit())
    return {p.pid: p for p in procs if p is not None}


def _environ(pid: int) -> list[bytes]:
    try:
        return Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:  # gone, or another user's process
        return []


def send_kill(proc: Proc) -> None:
    """SIGKILL `proc`, unless its pid names another process by now."""
    try:
        fd = os.pidfd_open(proc.pid)
    except OSError:  # already gone
        return
    try:
        now = read_proc(proc.pid)
        if now is not None and now.started == proc.started:
            signal.pidfd_send_signal(fd, signal.SIGKILL)
    except OSError:
        pass
    finally:
        os.close(fd)


def _new_marker() -> str:
    me = read_proc(os.getpid())
    return f"{os.getpid()}.{me.started if me else 0}.{secrets.token_hex(8)}"


class StepProcesses:
    """The processes of one step. `start()` once; `kill()` from any thread, any number of times;
    `reap()` once the step is over (it kills what is left first)."""

    def __init__(self) -> None:
        self.marker = _new_marker()
        self.process: subprocess.Popen | None = None
        self._before: set[int] = set()
        self._lock = threading.Lock()
        self._reaped = False

    def start(self, argv: list[str], *, env: dict[str, str], **popen) -> subprocess.Popen:
        set_child_subreaper(True)
        try:
            return self._start(argv, env, popen)
        except BaseException:
            set_child_subreaper(False)
            raise

    def _start(self, argv: list[str], env: dict[str, str], popen: dict) -> subprocess.Popen:
        me = os.getpid()
        self._before = {p.pid for p in process_table().values() if p.ppid == me}

        def die_with_worker() -> None:  # in the child, between fork and exec
            # The kernel sends it when the thread that forked exits: the runner thread waits
            # for the command, so that is when the worker dies.
            die_with_parent(me)

        self.process = subprocess.Popen(
            argv,
            env={**env, MARKER: self.marker},
            # Safe with threads around: it only calls prctl (no lock, no import, no allocation).
            preexec_fn=die_with_worker,
            start_new_session=True,  # no terminal signal of the worker's reaches it
            **popen,
        )
        return self.process

    def exited(self) -> bool:
        """Whether the direct child has exited (it stays unreaped, so its pid stays ours)."""
        try:
            found = os.waitid(os.P_PID, self.process.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:  # already collected (SIGCHLD ignored by the host process)
            return True
        return found is not None

    def kill(self) -> None:
        with self._lock:
            if not self._reaped:
                self._kill_members()

    def reap(self) -> int:
        """Kill what is left (a server the command started in the background, a grandchild in
        a session of its own), collect the direct child's exit code and the zombies."""
        with self._lock:
            if not self._reaped:
                try:
                    self._kill_members()
                    self.process.wait()
                    self._collect_orphans()
                    self._reaped = True
                finally:
                    set_child_subreaper(False)
        return self.process.returncode

    def _members(self, table: dict[int, Proc]) -> set[int]:
        me = os.getpid()
        entry = f"{MARKER}={self.marker}".encode()
        roots = [p for p, proc in table.items() if proc.ppid == me and p not in self._before]
        roots += [p for p in table if p not in (1, me) and entry in _environ(p)]
        children: dict[int, list[int]] = {}
        for proc in table.values():
            children.setdefault(proc.ppid, []).append(proc.pid)
        found: set[int] = set()
        while roots:
            pid = roots.pop()
            if pid not in found and pid != me:
                found.add(pid)
                roots.extend(children.get(pid, []))
        return found

    def _kill_members(self) -> None:
        give_up = time.monotonic() + _KILL_DEADLINE_SECONDS
        while True:
            table = process_table()
            alive = [table[p] for p in self._members(table) if table[p].state not in _DEAD]
            if not alive:
                return
            if time.monotonic() > give_up:
                log.warning("step processes %s did not die", [p.pid for p in alive])
                return
            for proc in alive:
                send_kill(proc)
            # Let the kernel finish them, then look again: one may have forked meanwhile.
            time.sleep(0.005)

    def _collect_orphans(self) -> None:
        # A member that exits hands its children to the worker (the subreaper) before it shows
        # as a zombie, so by now every dead member is the worker's to collect.
        me = os.getpid()
        for proc in process_table().values():
            if proc.ppid == me and proc.state in _DEAD and proc.pid not in self._before:
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(proc.pid, os.WNOHANG)


def sweep_orphans() -> int:
    """Kill what the steps of dead workers left running: processes whose marker names an owner
    that is gone (a SIGKILLed worker runs no clean-up; PDEATHSIG only reaches its direct child).
    Called as each worker process starts. Returns how many it killed."""
    table = process_table()
    prefix = f"{MARKER}=".encode()
    killed = 0
    for pid, proc in table.items():
        marker = next((e[len(prefix) :] for e in _environ(pid) if e.startswith(prefix)), None)
        if marker is not None and not _owner_alive(marker, table):
            send_kill(proc)
            killed += 1
    return killed


def _owner_alive(marker: bytes, table: dict[int, Proc]) -> bool:
    try:
        pid, started, _ = marker.decode().split(".")
        owner = table.get(int(pid))
        return owner is not None and owner.started == int(started)
    except ValueError:  # not a marker this module wrote
        return False
