"""A PostgreSQL cluster and a Redis server of a run's own, on free loopback ports.

The chaos run restarts PostgreSQL and Redis under load. Restarting the machine's own servers cuts
every other connection to them: other test processes, other engineers. A cluster made with initdb
in a temporary directory and a redis-server on its own port are the same programs, restarted for
real, with nobody else connected.

PostgreSQL refuses to run as root, so as root the cluster runs as the `postgres` user (Debian's
packages create it) through runuser.
"""

import os
import shutil
import socket
import subprocess
import tempfile
import time
from contextlib import contextmanager, suppress
from pathlib import Path


def _postgres_bin() -> Path | None:
    """The directory of initdb and pg_ctl: Debian keeps them out of PATH, under the version."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if found:
        return found[-1].parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def missing() -> str | None:
    """Why private services cannot be started here, or None when they can."""
    if _postgres_bin() is None:
        return "no PostgreSQL server programs (initdb, pg_ctl)"
    if shutil.which("redis-server") is None:
        return "no redis-server"
    if os.geteuid() == 0 and (shutil.which("runuser") is None or not _user_exists("postgres")):
        return "running as root without runuser and a postgres user to run PostgreSQL as"
    return None


def _user_exists(name: str) -> bool:
    import pwd  # Lazy: POSIX only, and only asked when running as root.

    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


class PrivateServices:
    """Started by `private_services()`; the URLs to hand to Django, and real restarts."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.bin = _postgres_bin()
        self.data = root / "pgdata"
        self.pg_port = _free_port()
        self.redis_port = _free_port()
        self.redis: subprocess.Popen | None = None
        self.pg_log = str(root / "postgres.log")
        self.as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    @property
    def database_url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.pg_port}/chaos"

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.redis_port}/0"

    def _pg_ctl(self, *args: str) -> None:
        # The server's output goes to its log file (-l), never to ours: a server holding our
        # stdout open would keep a caller that reads it to the end waiting for ever.
        subprocess.run(
            [*self.as_postgres, str(self.bin / "pg_ctl"), "-D", str(self.data), "-w", *args],
            check=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def start_postgres(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.root, user="postgres")
        subprocess.run(
            [
                *self.as_postgres,
                str(self.bin / "initdb"),
                "-D",
                str(self.data),
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--no-sync",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        # fsync off: the data is thrown away with the directory; crashes are not what is tested.
        options = f"-p {self.pg_port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._pg_ctl("-o", options, "-l", self.pg_log, "start")
        subprocess.run(
            [
                str(self.bin / "createdb"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.pg_port),
                "-U",
                "postgres",
                "chaos",
            ],
            check=True,
        )

    def restart_postgres(self) -> None:
        # pg_ctl restart keeps the options of the start (postmaster.opts); -m fast disconnects
        # every client, as the machine's `pg_ctlcluster restart` does.
        self._pg_ctl("-m", "fast", "-l", self.pg_log, "restart")

    def start_redis(self) -> None:
        self.redis = subprocess.Popen(
            [
                "redis-server",
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.redis_port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.root),
                "--logfile",
                str(self.root / "redis.log"),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self._wait_for_redis()

    def restart_redis(self) -> None:
        self.stop_redis()
        self.start_redis()

    def stop_redis(self) -> None:
        if self.redis is not None:
            self.redis.terminate()
            try:
                self.redis.wait(10)
            except subprocess.TimeoutExpired:
                self.redis.kill()
                self.redis.wait()
            self.redis = None

    def _wait_for_redis(self, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with suppress(OSError), socket.create_connection(("127.0.0.1", self.redis_port), 1):
                return
            time.sleep(0.05)
        raise RuntimeError(f"redis-server did not listen on {self.redis_port}")

    def stop(self) -> None:
        self.stop_redis()
        if (self.data / "postmaster.pid").exists():
            with suppress(subprocess.CalledProcessError):
                self._pg_ctl("-m", "immediate", "stop")


@contextmanager
def private_services():
    """Start a PostgreSQL cluster and a Redis server in a temporary directory; remove both after."""
    root = Path(tempfile.mkdtemp(prefix="ib-services-"))
    services = PrivateServices(root)
    try:
        services.start_postgres()
        services.start_redis()
        yield services
    finally:
        services.stop()
        shutil.rmtree(root, ignore_errors=True)
