"""Child processes that end with their parent (Linux's PR_SET_PDEATHSIG).

A process that is killed outright (SIGKILL, the OOM killer, a crashed terminal) stops none of its
children. Left alone, a qcluster's sentinel and workers run on as orphans that still take tasks, so
restarting the cluster doubles them; `manage.py serve`'s web server keeps its port. The kernel can
signal a child when its parent ends instead: used by engine.cluster for every process of a
worker cluster, by `manage.py serve` for its two children and by runners.processes for a command
step's process.
"""

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
PR_SET_CHILD_SUBREAPER = 36

_libc = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None


def die_with_parent(parent_pid: int, sig: int = signal.SIGKILL) -> bool:
    """Have the kernel send `sig` to this process when its parent ends; call it in the child, first
    thing after the fork. `parent_pid` is the parent as the child was forked; if that one has ended
    already, this process ends at once. False where the platform cannot do it (not Linux).

    The kernel watches the parent *thread* that forked: fork from a thread that lives as long as
    the parent process (every caller here forks from its main thread)."""
    if _libc is None:
        return False
    if _libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"prctl(PR_SET_PDEATHSIG): {os.strerror(errno)}")
    # A parent that ended between the fork and the prctl sent nothing, and never will.
    if os.getppid() != parent_pid:
        os.kill(os.getpid(), sig)
    return True


def set_child_subreaper(on: bool) -> None:
    """Make orphaned descendants of this process its children instead of init's (or stop it), so
    a step's processes that left their parent can still be found and killed (runners.processes)."""
    if _libc is None:
        raise OSError("a child subreaper needs Linux")
    if _libc.prctl(PR_SET_CHILD_SUBREAPER, int(on), 0, 0, 0) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"prctl(PR_SET_CHILD_SUBREAPER): {os.strerror(errno)}")
