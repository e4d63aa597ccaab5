"""Run a finished execution again: `manage.py rerun 42 --failed-only --wait`."""

from django.core.management.base import BaseCommand

from core.errors import DomainError
from engine.management.progress import (
    UsageExitCodes,
    quiet_cluster_logs,
    report_finished,
    usage_error,
    wait_for,
)
from executions.models import Execution
from executions.services import people


class Command(UsageExitCodes, BaseCommand):
    help = (
        "Re-run a finished execution as a new attempt (suite runs: optionally failed cases only)."
    )

    def add_arguments(self, parser):
        parser.add_argument("execution_id", type=int)
        parser.add_argument("--failed-only", action="store_true")
        parser.add_argument("--wait", action="store_true")
        parser.add_argument("--here", action="store_true", help="with --wait: run in this process")

    def handle(self, *args, **options):
        with quiet_cluster_logs():  # "Enqueued ..." at the start, the worker's lines with --here
            self.run_or_rerun(options)

    def run_or_rerun(self, options):
        if not Execution.objects.filter(pk=options["execution_id"]).exists():
            raise usage_error(f"No execution #{options['execution_id']}.")
        try:
            execution = people.execution_rerun(
                options["execution_id"], only_failed=options["failed_only"]
            )
        except DomainError as exc:
            raise usage_error(exc.message) from None
        self.stdout.write(
            f"execution #{execution.pk} {execution.status} (attempt {execution.attempt_count})"
        )
        if options["wait"]:
            finished = wait_for(execution.pk, run_here=options["here"], out=self.stderr)
            raise SystemExit(report_finished(finished, self.stdout))
