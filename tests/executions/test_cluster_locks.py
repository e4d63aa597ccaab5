"""engine.cluster's locks between real forked processes: a SIGKILLed holder frees them, forked
processes exclude each other, and the queue built on them keeps serving after a waiting reader is
killed (multiprocessing's own semaphores stay taken for ever in both cases)."""

import gc
import multiprocessing
import os
import signal
import threading

import pytest

from engine.cluster import ClusterQueue, FlockLock, cluster_value
from tests.live import queue_lock_holder, wait_until, waiting_on

fork = multiprocessing.get_context("fork")


def hold_until_told(lock: FlockLock, conn) -> None:
    lock.acquire()
    conn.send("holding")
    conn.recv()  # until the test kills it


def hold_and_fork(lock: FlockLock, conn) -> None:
    lock.acquire()
    child = os.fork()  # a step's code may fork; its child must not keep the lock alive
    if child == 0:
        conn.recv()
        os._exit(0)
    conn.send(child)
    conn.recv()


def try_then_wait(lock: FlockLock, conn) -> None:
    conn.send(lock.acquire(block=False))
    conn.send(lock.acquire(timeout=10))


def get_one(queue: ClusterQueue, conn) -> None:
    conn.send(queue.get())


@pytest.fixture
def children():
    started = []
    yield started
    for process in started:
        if process.is_alive():
            process.kill()
        process.join(5)


def start(children, target, *args):
    process = fork.Process(target=target, args=args, daemon=True)
    process.start()
    children.append(process)
    return process


def test_a_lock_whose_holder_is_killed_is_free_at_once(children):
    lock = FlockLock()
    ours, theirs = fork.Pipe()
    holder = start(children, hold_until_told, lock, theirs)
    assert ours.recv() == "holding"
    assert lock.acquire(block=False) is False

    os.kill(holder.pid, signal.SIGKILL)
    holder.join(5)

    assert lock.acquire(timeout=5) is True
    lock.release()


def test_a_child_the_holder_forked_does_not_keep_the_lock_after_the_holder_dies(children):
    lock = FlockLock()
    ours, theirs = fork.Pipe()
    holder = start(children, hold_and_fork, lock, theirs)
    grandchild = ours.recv()
    try:
        os.kill(holder.pid, signal.SIGKILL)
        holder.join(5)
        assert lock.acquire(timeout=5) is True
        lock.release()
    finally:
        os.kill(grandchild, signal.SIGKILL)


def test_forked_processes_exclude_each_other(children):
    lock = FlockLock()
    lock.acquire()
    ours, theirs = fork.Pipe()
    start(children, try_then_wait, lock, theirs)

    assert ours.recv() is False  # the child shares no lock with its parent's hold
    lock.release()
    assert ours.poll(10) and ours.recv() is True


def test_a_reentrant_lock_is_held_until_released_as_often_as_taken():
    lock = FlockLock(reentrant=True)
    assert lock.acquire() and lock.acquire()
    lock.release()
    taken = []
    other = threading.Thread(target=lambda: taken.append(lock.acquire(timeout=0.05)))
    other.start()
    other.join()
    assert taken == [False]
    lock.release()
    with pytest.raises(RuntimeError):
        lock.release()
    assert lock.acquire(block=False)
    lock.release()


def test_a_lock_held_by_another_thread_refuses_a_release_from_this_one():
    lock = FlockLock(reentrant=True)
    held, done = threading.Event(), threading.Event()

    def hold():
        lock.acquire()
        held.set()
        done.wait(5)
        lock.release()

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait(5)
    try:
        with pytest.raises(RuntimeError):
            lock.release()
    finally:
        done.set()
        holder.join()


def test_a_dropped_lock_closes_its_file():
    lock = FlockLock()
    fd = lock._fd
    del lock
    gc.collect()
    with pytest.raises(OSError):
        os.fstat(fd)


def test_a_shared_value_counts_under_its_lock():
    counter = cluster_value("i", 0)
    with counter.get_lock():
        counter.value += 2
    assert counter.value == 2


def test_the_queue_serves_the_next_reader_after_a_waiting_reader_is_killed(children):
    queue = ClusterQueue()
    first_ours, first_theirs = fork.Pipe()
    second_ours, second_theirs = fork.Pipe()
    first = start(children, get_one, queue, first_theirs)
    wait_until(
        lambda: queue_lock_holder([first.pid]), timeout=10, what="the first reader at the pipe"
    )
    second = start(children, get_one, queue, second_theirs)
    wait_until(
        lambda: (
            waiting_on(second.pid) not in ("", "0") and "pipe_read" not in waiting_on(second.pid)
        ),
        timeout=10,
        what="the second reader waiting on the queue's lock",
    )

    os.kill(first.pid, signal.SIGKILL)
    first.join(5)
    queue.put("task")

    assert second_ours.poll(10), "the second reader never got the task"
    assert second_ours.recv() == "task"
    assert not first_ours.poll(0)
    assert queue.qsize() == 0
