"""Admin of step traces: records, read-only, shown through the one accessor whichever storage
holds the steps (inline JSON or StepRecord rows)."""

import json

from django.contrib import admin
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from executions.models import Trace
from executions.traces import trace_step_page

_MAX_STEPS_SHOWN = 200


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

    @admin.display(description=f"steps (first {_MAX_STEPS_SHOWN})")
    def steps_table(self, trace: Trace) -> str:
        steps = trace_step_page(trace, after=-1, limit=_MAX_STEPS_SHOWN)
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
                    json.dumps(s.get("error"), indent=1) if s.get("error") else "",
                )
                for s in steps
            ),
        )
        head = mark_safe("<tr><th>#</th><th>step</th><th>status</th><th>ms</th><th>error</th></tr>")
        return format_html("<table>{}{}</table>", head, rows)
