"""The analytics page's charts, drawn on the server as inline SVG: no script, no chart library,
nothing loaded from elsewhere, and the same picture with scripts off.

Each chart is as wide as the days it has (a slot per day, at most MAX_SLOT wide), so one day of
data is one readable bar rather than a dot in an empty frame; past the panel's width the SVG
scales down (viewBox), and its text is sized in the SVG's own units to stay legible on a phone.
"""

from django import template
from django.utils.html import format_html, format_html_join

from dashboard.templatetags.dashboard import millis

register = template.Library()

HEIGHT, TOP, BOTTOM, LEFT, RIGHT = 170, 14, 26, 44, 44
MAX_SLOT, MIN_PLOT, MAX_BAR = 40, 120, 28
# Stacked from the bottom: what passed, then what went wrong, then what did not run.
OUTCOMES = (("passed", "ok"), ("failed", "bad"), ("error", "error"), ("skipped", "muted"))


def _frame(n: int) -> tuple[float, float]:
    """(slot width, plot width) for n days: MAX_SLOT a day up to 560 units, at least MIN_PLOT
    (room for the day's label), the slots filling it."""
    plot_w = max(min(n * MAX_SLOT, 560), MIN_PLOT)
    return plot_w / n, plot_w


def _svg(plot_w: float, label: str, body) -> str:
    width = LEFT + plot_w + RIGHT
    return format_html(
        '<svg class="chart" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" '
        'aria-label="{label}">{body}</svg>',
        w=f"{width:.0f}",
        h=HEIGHT,
        label=label,
        body=body,
    )


def _day_labels(days: list[dict], slot: float) -> str:
    """The first and last day, and as many between as fit without overlapping."""
    every = max(1, int(48 // slot) + 1)
    shown = [i for i in range(len(days)) if i % every == 0 or i == len(days) - 1]
    if len(shown) > 1 and shown[-1] - shown[-2] < every:
        shown.pop(-2)
    return format_html_join(
        "",
        '<text x="{}" y="{}" class="chart-label" text-anchor="middle">{}</text>',
        ((f"{LEFT + (i + 0.5) * slot:.1f}", HEIGHT - 8, f"{days[i]['day']:%b %d}") for i in shown),
    )


@register.simple_tag
def results_chart(days: list[dict]):
    """Results per day as bars stacked by outcome (their height is the count), and the pass rate
    as a line over them on its own 0-100 % scale (right). `days`: results.selectors.trends."""
    if not days:
        return format_html('<p class="empty">No results in this range.</p>')
    n = len(days)
    slot, plot_w = _frame(n)
    plot_h = HEIGHT - TOP - BOTTOM
    most = max(day["total"] for day in days) or 1
    bars, points = [], []
    for i, day in enumerate(days):
        bar_w = min(slot * 0.7, MAX_BAR)
        x, y = LEFT + (i + 0.5) * slot - bar_w / 2, TOP + plot_h
        rate = day["pass_rate"]
        title = f"{day['day']:%b %d}: {day['total']} results" + (
            f", {rate * 100:.0f}% passed" if rate is not None else ""
        )
        for name, tone in OUTCOMES:
            h = day[name] / most * plot_h
            if h:
                y -= h
                bars.append(
                    (
                        f"{x:.1f}",
                        f"{y:.1f}",
                        f"{bar_w:.1f}",
                        f"{h:.1f}",
                        tone,
                        name,
                        f"{title} ({day[name]} {name})",
                    )
                )
        if rate is not None:
            points.append(
                (f"{LEFT + (i + 0.5) * slot:.1f}", f"{TOP + plot_h * (1 - rate):.1f}", title)
            )
    rects = format_html_join(
        "",
        '<rect x="{}" y="{}" width="{}" height="{}" class="fill-{}" data-outcome="{}">'
        "<title>{}</title></rect>",
        bars,
    )
    line = format_html(
        '<polyline points="{}" class="chart-rate"/>', " ".join(f"{x},{y}" for x, y, _ in points)
    )
    dots = format_html_join(
        "",
        '<circle cx="{}" cy="{}" r="3.5" class="chart-rate-dot"><title>{}</title></circle>',
        points,
    )
    axes = format_html(
        '<text x="{l}" y="{top}" class="chart-label" text-anchor="end" dx="-6" dy="4">{most}</text>'
        '<text x="{l}" y="{bottom}" class="chart-label" text-anchor="end" dx="-6">0</text>'
        '<text x="{r}" y="{top}" class="chart-label chart-rate-label" dx="6" dy="4">100%</text>'
        '<text x="{r}" y="{bottom}" class="chart-label chart-rate-label" dx="6">0%</text>'
        '<line x1="{l}" y1="{bottom}" x2="{r}" y2="{bottom}" class="chart-axis"/>'
        '<line x1="{l}" y1="{top}" x2="{r}" y2="{top}" class="chart-grid"/>',
        l=LEFT,
        r=f"{LEFT + plot_w:.1f}",
        top=TOP,
        bottom=TOP + plot_h,
        most=most,
    )
    body = format_html("{}{}{}{}{}", axes, rects, line, dots, _day_labels(days, slot))
    return _svg(plot_w, "Results per day by outcome, and the pass rate", body)


@register.simple_tag
def duration_chart(days: list[dict]):
    """Median and 95th percentile duration per day, as two lines with a dot per day."""
    timed = [day for day in days if day["duration_p50_ms"] is not None]
    if not timed:
        return format_html('<p class="empty">No timed results in this range.</p>')
    slot, plot_w = _frame(len(timed))
    plot_h = HEIGHT - TOP - BOTTOM
    most = max(day["duration_p95_ms"] or day["duration_p50_ms"] for day in timed) or 1
    lines = []
    for key, css, name in (
        ("duration_p95_ms", "chart-p95", "95th percentile"),
        ("duration_p50_ms", "chart-p50", "median"),
    ):
        points = [
            (
                f"{LEFT + (i + 0.5) * slot:.1f}",
                f"{TOP + plot_h * (1 - day[key] / most):.1f}",
                css,
                f"{day['day']:%b %d}: {name} {millis(day[key])}",
            )
            for i, day in enumerate(timed)
            if day[key] is not None
        ]
        lines.append(
            format_html(
                '<polyline points="{}" class="{}"/>',
                " ".join(f"{x},{y}" for x, y, _, _ in points),
                css,
            )
        )
        lines.append(
            format_html_join(
                "",
                '<circle cx="{}" cy="{}" r="3.5" class="{}-dot"><title>{}</title></circle>',
                points,
            )
        )
    axes = format_html(
        '<text x="{l}" y="{top}" class="chart-label" text-anchor="end" dx="-6" dy="4">{most}</text>'
        '<text x="{l}" y="{bottom}" class="chart-label" text-anchor="end" dx="-6">0</text>'
        '<line x1="{l}" y1="{bottom}" x2="{r}" y2="{bottom}" class="chart-axis"/>'
        '<line x1="{l}" y1="{top}" x2="{r}" y2="{top}" class="chart-grid"/>',
        l=LEFT,
        r=f"{LEFT + plot_w:.1f}",
        top=TOP,
        bottom=TOP + plot_h,
        most=millis(most),
    )
    body = format_html(
        "{}{}{}", axes, format_html_join("", "{}", ((x,) for x in lines)), _day_labels(timed, slot)
    )
    return _svg(plot_w, "Median and 95th percentile duration per day", body)


@register.simple_tag
def meter(value, most, tone: str = "active"):
    """A bar as long as value / most, for a ranked table's row."""
    share = 0 if not most else max(0.0, min(1.0, float(value) / float(most)))
    return format_html(
        '<svg class="meter" viewBox="0 0 100 8" preserveAspectRatio="none" aria-hidden="true">'
        '<rect width="100" height="8" class="meter-track"/>'
        '<rect width="{}" height="8" class="fill-{}"/></svg>',
        f"{share * 100:.1f}",
        tone,
    )
