"""The django-q2 worker cluster, made to survive a killed worker and to end with its parent.

Why: django-q2's sentinel hands tasks to its workers through one multiprocessing Queue. The idle
worker waiting in `get()` holds the queue's reader lock, a POSIX semaphore; SIGKILL it and the
semaphore stays taken for good: every other worker, and every replacement the sentinel spawns,
waits on it, queued work waits for ever, and the workers' watchdog threads go on reporting them
alive. The queue's writer lock, the lock of its size counter, and the lock of each worker's timer
(which the sentinel takes every guard cycle) fail the same way when their holder dies.

What:
- Those locks become `FlockLock`s: an flock on an anonymous file. The kernel releases an flock when
  the last descriptor of its open file description closes, which the holder's death does, so the
  lock is free again the moment its holder is gone.
- Every process of the cluster (the sentinel; its workers, monitor and pusher) asks the kernel to
  kill it when its parent ends (core.processes), so a killed `qcluster` leaves no orphans
  that go on taking tasks beside its replacement.

`cluster_install()` patches the names django_q.cluster builds its queues, timers and processes
from; ExecutionsConfig.ready() calls it in the `qcluster` process only. Linux only (memfd, /proc,
prctl); elsewhere the cluster is django-q2's own.
"""

import contextlib
import fcntl
import logging
import multiprocessing
import multiprocessing.context
import os
import sys
import threading
import time
import weakref

from django.core.exceptions import ImproperlyConfigured
from django_q.queues import Queue

from core.processes import die_with_parent

log = logging.getLogger(__name__)

# How often a lock asked for with a timeout retries (flock itself has no timeout). The cluster
# itself only ever waits without one.
RETRY_SECONDS = 0.005
PATCHED_NAMES = ("Queue", "Value", "get_mp_context")

_locks: "weakref.WeakSet[FlockLock]" = weakref.WeakSet()


class FlockLock:
    """A lock shared by forked processes that the kernel releases when its holder dies.

    The interface of multiprocessing's Lock (reentrant=False) or RLock (reentrant=True), which is
    what its Queue and Value call. An flock excludes other open file descriptions, not other
    threads of the holder, so a thread lock sits in front of it; and each process opens the file
    anew after a fork (see `_reopen_all`). Shared by fork only: it cannot be pickled."""

    def __init__(self, *, reentrant: bool = False) -> None:
        self._fd = os.memfd_create("intellibrowse-cluster-lock", os.MFD_CLOEXEC)
        self._reentrant = reentrant
        self._reset()
        _locks.add(self)

    def _reset(self) -> None:
        self._threads = threading.Lock()
        self._owner: int | None = None
        self._depth = 0

    def acquire(self, block: bool = True, timeout: float | None = None) -> bool:
        me = threading.get_ident()
        if self._reentrant and self._owner == me:
            self._depth += 1
            return True
        waits = block and timeout is not None
        deadline = time.monotonic() + max(timeout, 0) if waits else None
        if not self._threads.acquire(block, max(timeout, 0) if waits else -1):
            return False
        if not self._flock(block, deadline):
            self._threads.release()
            return False
        self._owner, self._depth = me, 1
        return True

    def _flock(self, block: bool, deadline: float | None) -> bool:
        if block and deadline is None:
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            return True
        while True:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                left = deadline - time.monotonic() if deadline is not None else 0
                if left <= 0:
                    return False
                time.sleep(min(RETRY_SECONDS, left))

    def release(self) -> None:
        if not self._depth or (self._reentrant and self._owner != threading.get_ident()):
            raise RuntimeError("release of a FlockLock this thread does not hold")
        self._depth -= 1
        if self._depth:
            return
        self._owner = None
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._threads.release()

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()

    def __getstate__(self):
        raise TypeError("a FlockLock is shared with child processes by fork only")

    def __del__(self) -> None:
        # The sentinel makes a lock for every worker it spawns (its timer): close each with it.
        with contextlib.suppress(AttributeError, OSError):  # half-built, or closed already
            os.close(self._fd)

    def _reopen(self) -> None:
        # A forked child shares its parent's open file description, and with it the parent's flock
        # (neither would exclude the other). Open a description of its own through /proc, and close
        # the inherited descriptor: kept open, it would keep the lock of a parent that dies held.
        fd = os.open(f"/proc/self/fd/{self._fd}", os.O_RDWR | os.O_CLOEXEC)
        os.close(self._fd)
        self._fd = fd
        self._reset()  # a thread of the parent may have held it; that thread is not here


def _reopen_all() -> None:
    for lock in list(_locks):
        lock._reopen()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reopen_all)


class ClusterQueue(Queue):
    """django-q2's queue with locks that die with their holder."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._rlock = FlockLock()
        self._wlock = FlockLock()
        self.size.count = multiprocessing.Value("i", 0, lock=FlockLock(reentrant=True))


def cluster_value(typecode, *args):
    """multiprocessing.Value with a lock that dies with its holder (a worker's timer)."""
    return multiprocessing.Value(typecode, *args, lock=FlockLock(reentrant=True))


class ClusterProcess(multiprocessing.context.ForkProcess):
    """A process of the cluster: ends when the process that started it ends."""

    def run(self) -> None:
        die_with_parent(multiprocessing.parent_process().pid)
        super().run()


class ClusterContext(multiprocessing.context.ForkContext):
    Process = ClusterProcess


_context = ClusterContext()


def cluster_context() -> ClusterContext:
    return _context


def cluster_install() -> bool:
    """Build this process's django-q2 cluster from the classes above. Returns False where that is
    not possible (not Linux), raises ImproperlyConfigured if django-q2 no longer has the names."""
    if not sys.platform.startswith("linux") or not os.path.isdir("/proc/self/fd"):
        log.warning("not on Linux: the worker cluster keeps django-q2's own locks")
        return False
    from django_q import cluster

    missing = [name for name in PATCHED_NAMES if not hasattr(cluster, name)]
    if missing:
        raise ImproperlyConfigured(
            f"django_q.cluster has no {', '.join(missing)}: engine.cluster needs updating "
            "for this django-q2 version"
        )
    cluster.Queue = ClusterQueue
    cluster.Value = cluster_value
    cluster.get_mp_context = cluster_context
    return True
