"""Start the web server (uvicorn, ASGI) and a django-q2 worker cluster together; Ctrl-C stops both.

This is what `make run` ends with. In production run the two as separate services instead
(README: "How to scale out").

Both children are started to die with this process (core.processes): Ctrl-C and SIGTERM
stop them here, but a `kill -9` or the OOM killer leaves nobody to do it, and an orphaned web server
keeps the port while an orphaned cluster keeps taking tasks beside the next one. SIGKILL, because
nobody is left to escalate if a gentler signal were ignored or a shutdown hung.
"""

import functools
import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from core.processes import die_with_parent

STOP_GRACE_SECONDS = 15


class Command(BaseCommand):
    help = "Run the web server and the worker cluster in one terminal."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--web-workers", type=int, default=1)
        parser.add_argument("--no-worker", action="store_true", help="web server only")

    def handle(self, *args, **options):
        if not settings.DEBUG:
            call_command("collectstatic", interactive=False, verbosity=0)
        host, port = options["host"], options["port"]
        env = {
            **os.environ,
            "IB_PUBLIC_URL": os.environ.get("IB_PUBLIC_URL", f"http://{host}:{port}"),
        }
        web = [
            sys.executable,
            "-m",
            "uvicorn",
            "intellibrowse.asgi:application",
            "--host",
            host,
            "--port",
            str(port),
            "--workers",
            str(options["web_workers"]),
            "--lifespan",
            "auto",
            "--no-server-header",
        ]
        # Runs in each child between fork and exec; this process has no other thread then.
        with_us = functools.partial(die_with_parent, os.getpid())
        processes = {"web": subprocess.Popen(web, env=env, preexec_fn=with_us)}
        if not options["no_worker"]:
            worker = [sys.executable, str(settings.BASE_DIR / "manage.py"), "qcluster"]
            processes["worker"] = subprocess.Popen(worker, env=env, preexec_fn=with_us)

        self.stdout.write(
            self.style.SUCCESS(f"\nIntelliBrowse is running at http://{host}:{port}/")
        )
        self.stdout.write(
            f"  dashboard http://{host}:{port}/   admin http://{host}:{port}/admin/   "
            f"API http://{host}:{port}/api/v1/   docs http://{host}:{port}/api/v1/docs/\n"
            "  Press Ctrl-C to stop.\n"
        )
        stopping = False

        def stop(signum, frame):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        exit_code = 0
        while not stopping:
            for name, process in processes.items():
                if process.poll() is not None:
                    self.stderr.write(f"{name} exited with code {process.returncode}; stopping")
                    exit_code, stopping = process.returncode or 1, True
            time.sleep(0.3)
        self._stop_all(processes)
        raise SystemExit(exit_code)

    def _stop_all(self, processes: dict) -> None:
        for process in processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for process in processes.values():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
        self.stdout.write("stopped")
