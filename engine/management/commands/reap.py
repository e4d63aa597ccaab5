"""One reaper pass (or a loop): recover lost workers, enforce timeouts, release delayed runs."""

import time

from django.core.management.base import BaseCommand

from engine import watchdog


class Command(BaseCommand):
    help = "Recover executions whose worker died, time out overdue ones, release delayed runs."

    def add_arguments(self, parser):
        parser.add_argument(
            "--loop", action="store_true", help="keep reaping every --every seconds"
        )
        parser.add_argument("--every", type=float, default=2.0)

    def handle(self, *args, **options):
        while True:
            done = watchdog.reap_once()
            self.stdout.write(" ".join(f"{k}={v}" for k, v in done.items()))
            if not options["loop"]:
                return
            time.sleep(options["every"])
