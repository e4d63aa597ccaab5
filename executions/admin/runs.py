"""Admin for operators: executions with their attempts, trace and event history; transitions as
admin actions (cancel, re-run, re-run failed) through the same services as the API."""

from django.contrib import admin, messages
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from core.errors import DomainError
from executions.admin.traces import MAX_STEPS_SHOWN, steps_html
from executions.models import Attempt, Execution, ExecutionEvent, ExecutionStatus, QueueState
from executions.services import people, queue
from executions.traces import trace_step_page

S = ExecutionStatus
_STATUS_COLOURS = {
    S.PASSED: "#1a7f37",
    S.FAILED: "#cf222e",
    S.ERROR: "#bc4c00",
    S.TIMED_OUT: "#bc4c00",
    S.CANCELLED: "#6e7781",
    S.INTERRUPTED: "#9a6700",
    S.RUNNING: "#0969da",
    S.CANCELLING: "#8250df",
    S.AWAITING_INPUT: "#9a6700",
}
_MAX_EVENTS_SHOWN = 200


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class AttemptInline(ReadOnlyInline):
    model = Attempt
    fields = ["number", "reason", "outcome", "worker", "started_at", "finished_at", "error"]
    readonly_fields = fields


class EventInline(ReadOnlyInline):
    model = ExecutionEvent
    fields = ["seq", "kind", "from_status", "to_status", "actor_label", "reason", "created_at"]
    readonly_fields = fields
    ordering = ["seq"]
    verbose_name_plural = f"events (the first {_MAX_EVENTS_SHOWN}; all of them: the API's events/)"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("actor")


def _run_service(modeladmin, request, queryset, service, verb: str, **kwargs) -> None:
    done, refused = 0, []
    for execution in queryset.order_by("id"):
        try:
            service(execution.pk, actor=request.user, **kwargs)
            done += 1
        except DomainError as exc:
            refused.append(f"#{execution.pk}: {exc.message}")
    if done:
        modeladmin.message_user(request, f"{verb} {done} execution(s).", messages.SUCCESS)
    if refused:
        modeladmin.message_user(request, "Not changed: " + "; ".join(refused), messages.WARNING)


@admin.register(Execution)
class ExecutionAdmin(admin.ModelAdmin):
    # Eight short columns: eleven (priority, attempts, environment and revision apart, a date
    # without seconds) ran off the right edge at 1440 px beside the filters. Priority stays a
    # filter; the attempts are on the change page.
    list_display = [
        "id",
        "target",
        "project",
        "coloured_status",
        "trigger",
        "where",
        "created",
        "duration",
    ]
    list_filter = ["status", "priority", "trigger", "project", "environment", "created_at"]
    search_fields = [
        "=id",
        "test_case__key",
        "test_case__name",
        "test_suite__name",
        "revision",
        "branch",
    ]
    date_hierarchy = "created_at"
    list_select_related = ["project", "test_case", "test_suite"]
    list_per_page = 50
    actions = ["cancel_selected", "rerun_selected", "rerun_failed_selected"]
    inlines = [AttemptInline, EventInline]
    fieldsets = [
        (None, {"fields": ["project", "test_case", "test_suite", "parent", "dashboard_link"]}),
        ("Status", {"fields": ["coloured_status", "status_reason", "summary", "steps_table"]}),
        (
            "Run options",
            {
                "fields": [
                    "priority",
                    "trigger",
                    "triggered_by",
                    "parameters",
                    "environment",
                    "revision",
                    "branch",
                    "labels",
                    "not_before",
                    "timeout_seconds",
                    "step_timeout_seconds",
                    "max_retries",
                    "retry_backoff_seconds",
                    "max_parallel",
                    "fail_fast",
                ]
            },
        ),
        (
            "Lifecycle",
            {
                "fields": [
                    "created_at",
                    "queued_at",
                    "started_at",
                    "finished_at",
                    "deadline_at",
                    "heartbeat_at",
                    "worker",
                    "attempt_count",
                ]
            },
        ),
    ]

    def get_readonly_fields(self, request, obj=None):
        # Everything is read-only: state changes only through the actions (the services).
        fields = [f for _, group in self.fieldsets for f in group["fields"]]
        return fields

    def has_add_permission(self, request) -> bool:
        return (
            False  # runs start from a case or suite (their admin actions), the API or the dashboard
        )

    def save_model(self, request, obj, form, change) -> None:
        # Every field is read-only, so a Save has nothing to write; saving the row anyway would
        # write back every column as this request read it, over what a worker wrote meanwhile.
        return

    def has_delete_permission(self, request, obj=None) -> bool:
        return request.user.is_superuser  # the audit trail goes with it

    @admin.display(description="test", ordering="test_case__key")
    def target(self, execution: Execution) -> str:
        if execution.test_suite_id:
            return f"suite: {execution.test_suite.name}"
        return execution.test_case.key

    @admin.display(description="status", ordering="status")
    def coloured_status(self, execution: Execution) -> str:
        colour = _STATUS_COLOURS.get(execution.status, "#57606a")
        return format_html('<b style="color:{}">{}</b>', colour, execution.get_status_display())

    @admin.display(description="branch · revision · env")
    def where(self, execution: Execution) -> str:
        parts = [execution.branch, execution.revision[:12], execution.environment]
        return " · ".join(p for p in parts if p) or "-"

    @admin.display(description="created", ordering="created_at")
    def created(self, execution: Execution) -> str:
        return f"{timezone.localtime(execution.created_at):%Y-%m-%d %H:%M:%S}"

    @admin.display(description="duration")
    def duration(self, execution: Execution) -> str:
        if execution.started_at and execution.finished_at:
            return f"{(execution.finished_at - execution.started_at).total_seconds():.1f} s"
        return "-"

    @admin.display(description="dashboard")
    def dashboard_link(self, execution: Execution) -> str:
        return format_html('<a href="/executions/{}/">Watch it on the dashboard</a>', execution.pk)

    @admin.display(description=f"steps of the latest attempt (first {MAX_STEPS_SHOWN})")
    def steps_table(self, execution: Execution) -> str:
        trace = execution.traces.order_by("-attempt__number").first()
        if trace is None:
            return "-"
        return steps_html(trace_step_page(trace, after=-1, limit=MAX_STEPS_SHOWN), errors="message")

    def get_inline_instances(self, request, obj=None):
        return super().get_inline_instances(request, obj) if obj else []

    @admin.action(description="Cancel selected executions", permissions=["change"])
    def cancel_selected(self, request, queryset):
        _run_service(self, request, queryset, people.execution_cancel, "Cancelled")

    @admin.action(description="Re-run selected executions", permissions=["change"])
    def rerun_selected(self, request, queryset):
        _run_service(self, request, queryset, people.execution_rerun, "Re-queued")

    @admin.action(
        description="Re-run only the failed parts of selected suite runs", permissions=["change"]
    )
    def rerun_failed_selected(self, request, queryset):
        _run_service(self, request, queryset, people.execution_rerun, "Re-queued", only_failed=True)


@admin.register(QueueState)
class QueueStateAdmin(admin.ModelAdmin):
    list_display = ["__str__", "reason", "changed_by", "changed_at", "queue_link"]
    actions = ["pause", "resume"]
    readonly_fields = ["paused", "reason", "changed_by", "changed_at"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def get_queryset(self, request):
        QueueState.get()  # the row exists from the first look on
        return super().get_queryset(request)

    @admin.display(description="queued work")
    def queue_link(self, state) -> str:
        url = reverse("admin:executions_execution_changelist") + "?status__exact=queued"
        return format_html('<a href="{}">queued executions</a>', url)

    @admin.action(
        description="Pause the queue (running executions carry on)", permissions=["change"]
    )
    def pause(self, request, queryset):
        queue.queue_pause(actor=request.user, reason="paused from the admin")
        self.message_user(request, "Queue paused.", messages.SUCCESS)

    @admin.action(description="Resume the queue", permissions=["change"])
    def resume(self, request, queryset):
        queue.queue_resume(actor=request.user)
        self.message_user(request, "Queue resumed.", messages.SUCCESS)
