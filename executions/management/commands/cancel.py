"""Cancel executions: `manage.py cancel 42 43 --reason "bad build"`."""

from django.core.management.base import BaseCommand, CommandError

from core.errors import DomainError
from executions.models import Execution
from executions.services import people


class Command(BaseCommand):
    help = "Cancel executions (queued at once; running ones stop at the next step boundary)."

    def add_arguments(self, parser):
        parser.add_argument("execution_ids", type=int, nargs="+")
        parser.add_argument("--reason", default="cancelled from the command line")

    def handle(self, *args, **options):
        failed = False
        for execution_id in options["execution_ids"]:
            if not Execution.objects.filter(pk=execution_id).exists():
                self.stderr.write(f"#{execution_id}: no such execution")
                failed = True
                continue
            try:
                execution = people.execution_cancel(execution_id, reason=options["reason"])
            except DomainError as exc:
                self.stderr.write(f"#{execution_id}: {exc.message}")
                failed = True
                continue
            self.stdout.write(f"#{execution_id}: {execution.status}")
        if failed:
            raise CommandError("some executions were not cancelled")
