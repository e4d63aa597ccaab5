"""Compare two runs: `manage.py compare execution:41 execution:42` (or `compare previous
import:7`). The same service as GET /api/v1/compare/ (results.compare).

Exit codes, for CI: 0 nothing newly fails; 1 something newly fails (a test that passed or was
skipped in the base fails now, or a new test fails); 2 the runs could not be compared (a ref
that names no run, runs of two projects, a bad ratio).
"""

from django.core.management.base import BaseCommand, CommandError

from core.errors import DomainError
from results.compare import BUCKET_TITLES, BUCKETS, Row, runs_compare
from results.run_refs import runs_for_compare

NEWLY_FAILS, CANNOT_COMPARE = 1, 2


class Command(BaseCommand):
    help = "Compare two runs (execution:<id>, import:<id>; base may be `previous`)."

    def add_arguments(self, parser):
        parser.add_argument("base", help="execution:<id>, import:<id> or previous")
        parser.add_argument("head", help="execution:<id> or import:<id>")
        parser.add_argument(
            "--ratio", type=float, default=None, help="Slower from this many times."
        )
        parser.add_argument("--min-delta-ms", type=int, default=None, help="... and this much.")
        parser.add_argument("--limit", type=int, default=50, help="Rows shown per bucket (0: all).")

    def handle(self, *args, **options):
        try:
            base, head = runs_for_compare(options["base"], options["head"])
            comparison = runs_compare(
                base, head, ratio=options["ratio"], min_delta_ms=options["min_delta_ms"]
            )
        except DomainError as exc:
            raise CommandError(exc.message, returncode=CANNOT_COMPARE) from None
        against = base.label if base else "nothing (no earlier run of it on this branch)"
        self.stdout.write(f"{head.label} compared with {against}")
        limit = options["limit"]
        for name in BUCKETS:
            rows = comparison.buckets[name]
            self.stdout.write(f"\n{BUCKET_TITLES[name]}: {len(rows)}")
            for row in rows[:limit] if limit > 0 else rows:
                self.stdout.write(f"  {_line(name, row)}")
            if 0 < limit < len(rows):
                self.stdout.write(f"  ... and {len(rows) - limit} more")
        self.stdout.write(f"\nUnchanged: {comparison.unchanged}")
        if comparison.something_newly_fails:
            raise CommandError("something newly fails", returncode=NEWLY_FAILS)


def _line(bucket: str, row: Row) -> str:
    was = row.base.outcome if row.base else "-"
    now = row.head.outcome if row.head else "-"
    text = f"{row.key}  {was} -> {now}"
    if bucket == "slower":
        text += f"  {row.base.duration_ms} ms -> {row.head.duration_ms} ms ({row.ratio:.1f}x)"
    elif row.head and row.head.message:
        text += f"  {row.head.message[:200]}"
    return text
