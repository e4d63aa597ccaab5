"""Import JUnit XML reports: `manage.py import_junit report.xml --project web --revision abc123`.

The same service as POST /api/v1/imports/junit/ (results.imports.junit_import): streamed, safe
against hostile XML, idempotent.
"""

import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from catalog.models import Project
from core.errors import DomainError
from results.imports import junit_import


class Command(BaseCommand):
    help = "Import JUnit XML reports into a project ('-' reads standard input)."

    def add_arguments(self, parser):
        parser.add_argument("files", nargs="+")
        parser.add_argument("--project", required=True, help="Project slug or id.")
        parser.add_argument("--revision", default="")
        parser.add_argument("--branch", default="")
        parser.add_argument("--environment", default="")
        parser.add_argument(
            "--key", default="", help="Idempotency key (one file only); default: the content hash."
        )
        parser.add_argument("--max-bytes", type=int, default=None)

    def handle(self, *args, **options):
        project = _project(options["project"])
        if options["key"] and len(options["files"]) > 1:
            raise CommandError("--key names one import; give one file with it.")
        failed = False
        for name in options["files"]:
            try:
                batch, created = self._import(project, name, options)
            except (OSError, DomainError) as exc:
                self.stderr.write(f"{name}: {getattr(exc, 'message', exc)}")
                failed = True
                continue
            totals = batch.totals
            verb = "imported" if created else "already imported"
            self.stdout.write(
                f"{name}: {verb} as #{batch.pk}: {totals.get('tests', 0)} tests, "
                f"{totals.get('failed', 0)} failed, {totals.get('error', 0)} errors, "
                f"{totals.get('skipped', 0)} skipped, {batch.new_cases} new cases"
            )
        if failed:
            raise CommandError("some reports were not imported")

    def _import(self, project, name: str, options):
        common = {
            "project": project,
            "revision": options["revision"],
            "branch": options["branch"],
            "environment": options["environment"],
            "idempotency_key": options["key"],
            "max_bytes": options["max_bytes"],
        }
        if name == "-":
            return junit_import(stream=sys.stdin.buffer, filename="stdin", **common)
        with Path(name).open("rb") as stream:
            return junit_import(stream=stream, filename=Path(name).name, **common)


def _project(ref: str) -> Project:
    project = Project.objects.filter(slug=ref).first()
    if project is None and ref.isdigit():
        project = Project.objects.filter(pk=int(ref)).first()
    if project is None:
        raise CommandError(f"No project {ref!r} (give its slug or id).")
    return project
