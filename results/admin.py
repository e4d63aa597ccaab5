"""Admin of the results app. Results, imports and case events are records: read-only.
Quarantine and hook rotation are admin actions calling the same services as the API."""

from django.contrib import admin, messages
from django.utils.html import format_html

from results.models import (
    CaseEvent,
    CaseResult,
    CaseStats,
    ImportBatch,
    RunNotification,
    SuiteHook,
)
from results.services import case_set_quarantine, hook_rotate, hook_set_enabled


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(CaseResult)
class CaseResultAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "case",
        "outcome",
        "retries",
        "duration_ms",
        "revision",
        "branch",
        "execution",
        "batch",
        "created_at",
    ]
    list_filter = ["outcome", "project"]
    search_fields = ["case__key", "revision", "branch"]
    raw_id_fields = ["case", "execution", "batch", "project"]
    date_hierarchy = "created_at"
    list_select_related = ["case"]


@admin.register(ImportBatch)
class ImportBatchAdmin(ReadOnlyAdmin):
    list_display = ["id", "project", "filename", "totals", "new_cases", "revision", "created_at"]
    list_filter = ["project", "source"]
    search_fields = ["filename", "revision", "branch", "idempotency_key"]
    raw_id_fields = ["created_by"]


@admin.register(CaseStats)
class CaseStatsAdmin(ReadOnlyAdmin):
    list_display = [
        "case",
        "runs",
        "last_outcome",
        "is_flaky",
        "flaky_score",
        "flaky_reason",
        "quarantined",
    ]
    list_filter = ["is_flaky", "project", "case__quarantined"]
    search_fields = ["case__key", "case__name"]
    ordering = ["-flaky_score"]
    list_select_related = ["case"]
    actions = ["quarantine", "release"]

    @admin.display(boolean=True)
    def quarantined(self, stats: CaseStats) -> bool:
        return stats.case.quarantined

    # An action without `permissions` is offered to everyone who may view the list; these rows
    # are read-only, so each action names the model permission it needs.
    def has_quarantine_permission(self, request) -> bool:
        return request.user.has_perm("catalog.change_testcase")

    @admin.action(
        description="Quarantine: keep running, stop failing the suite", permissions=["quarantine"]
    )
    def quarantine(self, request, queryset):
        self._set(request, queryset, True)

    @admin.action(description="Release from quarantine", permissions=["quarantine"])
    def release(self, request, queryset):
        self._set(request, queryset, False)

    def _set(self, request, queryset, quarantined: bool) -> None:
        for stats in queryset.select_related("case"):
            case_set_quarantine(
                stats.case, quarantined=quarantined, actor=request.user, reason="admin action"
            )
        self.message_user(request, f"{queryset.count()} cases updated.", messages.SUCCESS)


@admin.register(CaseEvent)
class CaseEventAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "case", "kind", "actor", "actor_label", "reason"]
    list_filter = ["kind", "project"]
    search_fields = ["case__key", "reason"]
    raw_id_fields = ["case", "actor", "project"]


@admin.register(SuiteHook)
class SuiteHookAdmin(ReadOnlyAdmin):
    list_display = ["suite", "enabled", "rotated_at", "last_triggered_at"]
    exclude = ["secret"]  # shown once, when rotated
    readonly_fields = ["suite", "badge_key", "enabled", "rotated_at", "last_triggered_at"]
    actions = ["rotate", "enable", "disable"]

    def has_manage_permission(self, request) -> bool:
        return request.user.has_perm("results.change_suitehook")

    @admin.action(
        description="Rotate the secret and badge key (shows the new secret once)",
        permissions=["manage"],
    )
    def rotate(self, request, queryset):
        for hook in queryset.select_related("suite"):
            new = hook_rotate(hook.suite, actor=request.user)
            self.message_user(
                request,
                format_html("New secret of {}: <code>{}</code>", hook.suite, new.secret),
                messages.WARNING,
            )

    @admin.action(description="Enable", permissions=["manage"])
    def enable(self, request, queryset):
        for hook in queryset.select_related("suite"):
            hook_set_enabled(hook.suite, enabled=True)

    @admin.action(description="Disable (calls are refused until enabled)", permissions=["manage"])
    def disable(self, request, queryset):
        for hook in queryset.select_related("suite"):
            hook_set_enabled(hook.suite, enabled=False)


@admin.register(RunNotification)
class RunNotificationAdmin(ReadOnlyAdmin):
    """What was announced to each project's webhook, and what went wrong (results.notify). The
    URL is left out of the list: it may carry the receiver's token."""

    list_display = [
        "id",
        "project",
        "execution",
        "batch",
        "status",
        "tries",
        "last_error",
        "sent_at",
    ]
    list_filter = ["status", "project"]
    raw_id_fields = ["project", "execution", "batch"]
    exclude = ["url"]
