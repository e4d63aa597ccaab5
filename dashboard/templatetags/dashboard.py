"""Template helpers of the dashboard: status badges, durations, and the two small SVG charts.

The charts are drawn on the server as inline SVG, so they need no script and no network, and a
panel swapped in after a live event brings its chart along.
"""

from django import template
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.timesince import timesince

from executions.models import ExecutionStatus

register = template.Library()
S = ExecutionStatus

# CSS classes per status: one colour family for success, failure, activity and neutral endings.
_TONE = {
    S.PASSED: "ok",
    S.FAILED: "bad",
    S.ERROR: "bad",
    S.TIMED_OUT: "bad",
    S.CANCELLED: "muted",
    S.INTERRUPTED: "warn",  # the CI client went silent: says nothing about the tests
    S.CANCELLING: "warn",
    S.RUNNING: "active",
    S.AWAITING_INPUT: "warn",
    S.QUEUED: "idle",
    S.PENDING: "idle",
    "skipped": "muted",
    "blocked": "warn",
    "interrupted": "warn",  # a step a cancel stopped while it ran (it may have had effects)
}


@register.filter
def tone(status: str) -> str:
    return _TONE.get(status, "idle")


@register.simple_tag
def status_badge(status: str):
    label = str(status).replace("_", " ")
    return format_html(
        '<span class="badge badge-{}" data-status="{}">{}</span>', tone(status), status, label
    )


@register.filter
def seconds(value) -> str:
    """3.2 -> "3.2 s", 125 -> "2 min 5 s"."""
    if value is None or value == "":
        return "–"
    value = float(value)
    if value < 60:
        return f"{value:.1f} s"
    minutes, rest = divmod(round(value), 60)
    return f"{minutes} min {rest} s" if minutes < 60 else f"{minutes // 60} h {minutes % 60} min"


@register.filter
def millis(value) -> str:
    return "–" if value is None else seconds(value / 1000)


@register.filter
def elapsed(execution) -> float | None:
    if execution.started_at and execution.finished_at:
        return (execution.finished_at - execution.started_at).total_seconds()
    return None


def run_label(run: dict) -> str:
    """ "#12 attempt 2" for a run here, "imported" for a JUnit result."""
    if not run["execution"]:
        return "imported"
    return f"#{run['execution']}" + (f" attempt {run['attempt']}" if run["attempt"] else "")


@register.simple_tag
def sparkline(history, slot: int = 10, height: int = 28):
    """One bar per result, newest left like the table under it: all the same size, so a fast
    failure is as visible as a slow pass; the colour is the outcome, the tooltip says the rest."""
    if not history:
        return mark_safe('<span class="muted">No runs yet.</span>')
    width = slot * len(history)
    bars = [
        (
            # Imported results have no execution page: their bar links nowhere.
            reverse("dashboard:execution", args=[run["execution"]]) if run["execution"] else "#",
            i * slot + 1,
            slot - 2,
            height,
            tone(run["status"]),
            run["status"],
            f"{run_label(run)}: {run['status']}, {seconds(run['seconds'])}",
        )
        for i, run in enumerate(history)
    ]
    rects = format_html_join(
        "",
        '<a href="{}"><rect x="{}" y="0" width="{}" height="{}" class="fill-{}" data-status="{}">'
        "<title>{}</title></rect></a>",
        bars,
    )
    return format_html(
        '<svg class="sparkline" viewBox="0 0 {} {}" width="{}" height="{}" role="img" '
        'aria-label="Outcomes of the latest runs, newest first">{}</svg>'
        '<div class="spark-axis muted" style="width: {}px"><span>newest</span><span>older</span></div>',
        width,
        height,
        width,
        height,
        rects,
        max(width, 90),
    )


@register.filter
def ago(moment) -> str:
    """ "just now" under a minute (timesince said "0 minutes ago"), else "5 minutes ago"."""
    if moment is None:
        return ""
    if (timezone.now() - moment).total_seconds() < 60:
        return "just now"
    return f"{timesince(moment)} ago"


# The trend's width per day it shows, in SVG units (a fortnight fills 560).
TREND_SLOT = 40


@register.simple_tag
def trend_chart(trend, width: int = 560, height: int = 140):
    """Pass rate per day as a line (days without runs leave a gap) over run-count bars.

    It starts at the first day with runs: a fortnight with one day of data is that one day (a
    slot wide), not a dot at the edge of an empty frame."""
    first = next((i for i, day in enumerate(trend) if day["total"]), None)
    if first is None:
        return format_html(
            '<p class="empty">No finished runs in the last {} days: the trend appears once '
            "runs finish.</p>",
            len(trend),
        )
    trend = trend[first:]
    pad, n = 24, len(trend)
    width = min(width, 2 * pad + max(n, 3) * TREND_SLOT)
    plot_w, plot_h = width - 2 * pad, height - 2 * pad
    x = [pad + (i + 0.5) * plot_w / n for i in range(n)]
    most = max(day["total"] for day in trend) or 1
    bars = format_html_join(
        "",
        '<rect x="{}" y="{}" width="{}" height="{}" class="trend-bar"><title>{}</title></rect>',
        (
            (
                f"{x[i] - plot_w / n * 0.35:.1f}",
                f"{pad + plot_h - day['total'] / most * plot_h:.1f}",
                f"{plot_w / n * 0.7:.1f}",
                f"{day['total'] / most * plot_h:.1f}",
                f"{day['day']:%b %d}: {day['total']} runs, "
                + (f"{day['rate']}% passed" if day["rate"] is not None else "none judged"),
            )
            for i, day in enumerate(trend)
        ),
    )
    segments, current = [], []
    for i, day in enumerate(trend):
        if day["rate"] is None:
            if current:
                segments.append(current)
            current = []
            continue
        current.append(f"{x[i]:.1f},{pad + plot_h - day['rate'] / 100 * plot_h:.1f}")
    if current:
        segments.append(current)
    lines = format_html_join(
        "", '<polyline points="{}" class="trend-line"/>', ((" ".join(s),) for s in segments)
    )
    # A dot per day with runs, so a lone day (no line to draw) still shows.
    dots = format_html_join(
        "",
        '<circle cx="{}" cy="{}" r="3" class="trend-dot"><title>{}: {}% passed</title></circle>',
        (
            (
                f"{x[i]:.1f}",
                f"{pad + plot_h - day['rate'] / 100 * plot_h:.1f}",
                f"{day['day']:%b %d}",
                day["rate"],
            )
            for i, day in enumerate(trend)
            if day["rate"] is not None
        ),
    )
    labels = format_html_join(
        "",
        '<text x="{}" y="{}" class="trend-label">{}</text>',
        (
            (f"{x[i]:.1f}", height - 6, f"{day['day']:%d}")
            for i, day in enumerate(trend)
            if n <= 7 or i % 2 == (n - 1) % 2  # every other day, always the last one
        ),
    )
    return format_html(
        '<svg class="trend" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" '
        'aria-label="Pass rate per day">'
        '<text x="2" y="{top}" class="trend-label">100%</text>'
        '<text x="2" y="{bottom}" class="trend-label">0%</text>'
        '<line x1="{pad}" y1="{top}" x2="{right}" y2="{top}" class="trend-grid"/>'
        '<line x1="{pad}" y1="{bottom}" x2="{right}" y2="{bottom}" class="trend-grid"/>'
        "{bars}{lines}{dots}{labels}</svg>",
        w=width,
        h=height,
        top=pad,
        bottom=pad + plot_h,
        pad=pad,
        right=width - pad,
        bars=bars,
        lines=lines,
        dots=dots,
        labels=labels,
    )
