"""The outcome-segmented progress bar: one fragment (templates/dashboard/_outcome_bar.html) for
every bar of the dashboard, coloured by what finished (passed, failed, error, skipped) rather than
by whether the run has ended. The counting is executions.progress, which `manage.py run --wait`
draws from too; static/dashboard/live.js repaints the same markup from live events."""

from django import template

from executions.progress import SEGMENTS, execution_progress

register = template.Library()


@register.inclusion_tag("dashboard/_outcome_bar.html")
def outcome_bar(execution, bar_id: str = "", label_id: str = ""):
    """A suite run's children counts come from `execution.child_statuses` when the page read
    them for all its rows at once (dashboard.selectors.with_child_statuses)."""
    progress = execution_progress(execution, getattr(execution, "child_statuses", None))
    return {
        "progress": progress,
        "segments": progress.segments(),
        "terminal": execution.is_terminal,
        "order": " ".join(SEGMENTS),
        "bar_id": bar_id,
        "label_id": label_id,
    }


@register.filter
def first_line(text: str) -> str:
    """The first non-empty line of an error text (a suite run's table shows one per child)."""
    return next((line.strip() for line in str(text).splitlines() if line.strip()), "")
