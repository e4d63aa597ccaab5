from django.contrib import admin, messages

from core.errors import DomainError
from executions.models import RunSchedule
from executions.services import schedules


@admin.register(RunSchedule)
class RunScheduleAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "project",
        "cron",
        "enabled",
        "test_case",
        "test_suite",
        "next_run",
        "last_run_at",
    ]
    list_filter = ["enabled", "project"]
    search_fields = ["name", "cron"]
    readonly_fields = ["q_schedule", "last_run_at", "created_by", "created_at", "next_run"]
    actions = ["run_now"]

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        try:
            schedules.schedule_save(obj)
        except DomainError as exc:
            self.message_user(request, exc.message, messages.ERROR)

    def delete_model(self, request, obj):
        schedules.schedule_delete(obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            schedules.schedule_delete(obj)

    @admin.action(description="Start the selected schedules' runs now", permissions=["change"])
    def run_now(self, request, queryset):
        started = [schedules.schedule_fire(s.pk) for s in queryset]
        count = len([e for e in started if e is not None])
        self.message_user(request, f"Started {count} run(s).", messages.SUCCESS)
