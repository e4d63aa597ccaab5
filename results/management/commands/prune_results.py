"""Prune traces and events of finished executions past their project's retention_days:
`manage.py prune_results [--project web] [--dry-run]`. The daily schedule runs the same."""

from django.core.management.base import BaseCommand, CommandError

from catalog.models import Project
from results.retention import prune_results


class Command(BaseCommand):
    help = "Delete traces and events of finished executions older than each project's retention."

    def add_arguments(self, parser):
        parser.add_argument("--project", help="Only this project (slug).")
        parser.add_argument("--dry-run", action="store_true", help="Count, delete nothing.")

    def handle(self, *args, **options):
        project = None
        if options["project"]:
            project = Project.objects.filter(slug=options["project"]).first()
            if project is None:
                raise CommandError(f"No project {options['project']!r}.")
        counts = prune_results(project=project, dry_run=options["dry_run"])
        verb = "would delete" if options["dry_run"] else "deleted"
        for slug, c in counts.items():
            self.stdout.write(
                f"{slug}: {verb} {c['traces']} traces ({c['steps']} step rows), "
                f"{c['events']} events"
            )
