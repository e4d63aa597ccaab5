"""The SVG status badge of a suite: its latest finished run's outcome, in the flat style READMEs
already show for builds and coverage."""

from xml.sax.saxutils import escape

from executions.models import ExecutionStatus

S = ExecutionStatus
COLOURS = {
    S.PASSED: "#2ea043",
    S.FAILED: "#cf222e",
    S.TIMED_OUT: "#cf222e",
    S.ERROR: "#d4a72c",
    S.CANCELLED: "#8c959f",
    S.INTERRUPTED: "#d4a72c",
}
UNKNOWN = "#8c959f"
CHAR_WIDTH = 6.5  # Verdana 11px, on average: badges need not be exact
PADDING = 10


def badge_svg(label: str, status: str | None) -> str:
    label = label[:40] or "tests"
    message = S(status).label.lower() if status else "no runs"
    colour = COLOURS.get(status, UNKNOWN)
    left = round(len(label) * CHAR_WIDTH + PADDING)
    right = round(len(message) * CHAR_WIDTH + PADDING)
    width = left + right
    label_x, message_x = left / 2, left + right / 2
    text_label, text_message = _escape(label), _escape(message)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="20" role="img" '
        f'aria-label="{text_label}: {text_message}">'
        f"<title>{text_label}: {text_message}</title>"
        f'<rect width="{left}" height="20" fill="#555"/>'
        f'<rect x="{left}" width="{right}" height="20" fill="{colour}"/>'
        '<g fill="#fff" text-anchor="middle" font-family="Verdana,DejaVu Sans,sans-serif" '
        'font-size="11">'
        f'<text x="{label_x}" y="14">{text_label}</text>'
        f'<text x="{message_x}" y="14">{text_message}</text>'
        "</g></svg>"
    )


def _escape(text: str) -> str:
    return escape(text, {'"': "&quot;"})
