"""Run a test case or a suite: `manage.py run --project demo --case login-works --wait`."""

from django.core.management.base import BaseCommand

from catalog.models import Project, TestCase, TestSuite
from core.errors import DomainError
from engine.management.progress import (
    UsageExitCodes,
    quiet_cluster_logs,
    report_finished,
    usage_error,
    wait_for,
)
from executions.models import Priority, Trigger
from executions.services import create

PRIORITIES = {p.label.lower(): p.value for p in Priority}


def key_values(pairs: list[str], option: str) -> dict[str, str]:
    values = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise usage_error(f"{option} takes key=value, got {pair!r}")
        values[key] = value
    return values


class Command(UsageExitCodes, BaseCommand):
    help = "Run a test case or suite; with --wait, show progress and exit 0 only if it passed."

    def add_arguments(self, parser):
        parser.add_argument("--project", required=True, help="project slug")
        target = parser.add_mutually_exclusive_group(required=True)
        target.add_argument("--case", help="test case key")
        target.add_argument("--suite", help="test suite name")
        parser.add_argument("--priority", choices=list(PRIORITIES), default="normal")
        parser.add_argument("--param", action="append", metavar="KEY=VALUE", help="run parameter")
        parser.add_argument("--label", action="append", metavar="KEY=VALUE")
        parser.add_argument("--environment", default="")
        parser.add_argument("--revision", default="")
        parser.add_argument("--branch", default="")
        parser.add_argument("--retries", type=int, default=0)
        parser.add_argument("--timeout", type=int, default=None, help="seconds")
        parser.add_argument("--wait", action="store_true", help="wait and exit with the outcome")
        parser.add_argument(
            "--here",
            action="store_true",
            help="with --wait: run it in this process (no worker needed)",
        )

    def handle(self, *args, **options):
        with quiet_cluster_logs():  # "Enqueued ..." at the start, the worker's lines with --here
            self.run_or_rerun(options)

    def run_or_rerun(self, options):
        project = Project.objects.filter(slug=options["project"]).first()
        if project is None:
            raise usage_error(f"No project with slug {options['project']!r}.")
        case = suite = None
        if options["case"]:
            case = TestCase.objects.filter(project=project, key=options["case"]).first()
            if case is None:
                raise usage_error(f"No test case {options['case']!r} in {project.slug}.")
        else:
            suite = TestSuite.objects.filter(project=project, name=options["suite"]).first()
            if suite is None:
                raise usage_error(f"No test suite {options['suite']!r} in {project.slug}.")
        try:
            execution = create.execution_create(
                project=project,
                test_case=case,
                test_suite=suite,
                trigger=Trigger.COMMAND,
                priority=PRIORITIES[options["priority"]],
                parameters=key_values(options["param"], "--param"),
                labels=key_values(options["label"], "--label"),
                environment=options["environment"],
                revision=options["revision"],
                branch=options["branch"],
                max_retries=options["retries"],
                timeout_seconds=options["timeout"],
            )
        except DomainError as exc:
            raise usage_error(exc.message) from None
        self.stdout.write(f"execution #{execution.pk} {execution.status}")
        if left_out := (execution.summary or {}).get("left_out"):
            named = ", ".join(f"{item['case']} ({item['why']})" for item in left_out)
            self.stdout.write(f"left out of the run: {named}")
        if options["wait"]:
            finished = wait_for(execution.pk, run_here=options["here"], out=self.stderr)
            raise SystemExit(report_finished(finished, self.stdout))
