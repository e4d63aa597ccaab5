"""Admin of step traces: records, read-only, shown through the one accessor whichever storage
holds the steps (inline JSON or StepRecord rows)."""

import json

from django.contrib import admin
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from executions.models import Trace
from executions.traces import trace_step_page

MAX_STEPS_SHOWN = 200


def steps_html(steps: list[dict], *, errors: str) -> str:
    """A trace's steps as an HTML table, for the trace and execution pages: each error in
    full (`errors="full"`, as JSON) or as its message."""
    if not steps:
        return "-"
    rows = format_html_join(
        "",
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td><pre>{}</pre></td></tr>",
        (
            (
                s["order"],
                s.get("name", ""),
                s["status"],
                s.get("duration_ms", ""),
                _error_text(s.get("error"), full=errors == "full"),
            )
            for s in steps
        ),
    )
    head = mark_safe("<tr><th>#</th><th>step</th><th>status</th><th>ms</th><th>error</th></tr>")
    return format_html("<table>{}{}</table>", head, rows)


def _error_text(error: dict | None, *, full: bool) -> str:
    if not error:
        return ""
    return json.dumps(error, indent=1) if full else error.get("message", "")


@admin.register(Trace)
class TraceAdmin(admin.ModelAdmin):
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    list_display = ["id", "execution", "attempt", "storage", "step_count", "counts", "updated_at"]
    list_filter = ["storage"]
    raw_id_fields = ["execution", "attempt"]
    exclude = ["steps"]  # shown through the accessor below, whichever storage holds them
    readonly_fields = ["execution", "attempt", "storage", "step_count", "counts", "steps_table"]

    @admin.display(description=f"steps (first {MAX_STEPS_SHOWN})")
    def steps_table(self, trace: Trace) -> str:
        return steps_html(trace_step_page(trace, after=-1, limit=MAX_STEPS_SHOWN), errors="full")
