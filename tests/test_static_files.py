"""Every file a template names with {% static %} exists: the dashboard's stylesheet and scripts
were named under static/dashboard/ while they still lay in static/monitoring/, and every page
lost its styles and its live updates (404s) with no test outside the browser ones noticing."""

import re
from pathlib import Path

from django.conf import settings
from django.contrib.staticfiles import finders

STATIC_TAG = re.compile(r"""{%\s*static\s+['"]([^'"]+)['"]\s*%}""")


def test_every_static_file_a_template_names_exists():
    templates = Path(settings.BASE_DIR, "templates")
    named = {
        (path.relative_to(templates).as_posix(), name)
        for path in templates.rglob("*.html")
        for name in STATIC_TAG.findall(path.read_text())
    }
    assert named, "no {% static %} found: the pattern above no longer matches the templates"
    missing = sorted((template, name) for template, name in named if finders.find(name) is None)
    assert missing == []


def test_every_stylesheet_closes_every_block_it_opens():
    """A merge left a `@media (max-width: 640px) {` open: every rule after it (the Failures
    page's) applied on phones only, and the page was unstyled at 1440 px. Browsers say nothing;
    counting braces outside comments and strings does."""
    sheets = sorted(Path(settings.BASE_DIR, "static").rglob("*.css"))
    assert sheets
    unbalanced = []
    for sheet in sheets:
        text = re.sub(r"/\*.*?\*/", "", sheet.read_text(), flags=re.S)
        text = re.sub(r"\"[^\"]*\"|'[^']*'", "", text)
        depth = 0
        for char in text:
            depth += {"{": 1, "}": -1}.get(char, 0)
            if depth < 0:
                break
        if depth != 0:
            unbalanced.append((sheet.name, depth))
    assert unbalanced == []
