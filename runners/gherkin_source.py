"""Parsing Gherkin with the official Cucumber parser (gherkin-official)."""

from gherkin.errors import ParserError
from gherkin.parser import Parser
from gherkin.token_scanner import TokenScanner

MAX_FEATURE_BYTES = 512 * 1024


class GherkinSyntaxError(ValueError):
    pass


def parse_feature(source: str) -> dict:
    """Return the Gherkin document (the parser's AST as dicts); raise GherkinSyntaxError with the
    parser's line:column messages when the text is not valid Gherkin."""
    if len(source.encode("utf-8", "replace")) > MAX_FEATURE_BYTES:
        raise GherkinSyntaxError(f"A feature may hold at most {MAX_FEATURE_BYTES // 1024} KiB.")
    try:
        document = Parser().parse(TokenScanner(source))
    except ParserError as exc:
        raise GherkinSyntaxError(
            f"Invalid Gherkin: {exc}".replace("Parser errors:\n", "")
        ) from None
    if not document.get("feature"):
        raise GherkinSyntaxError("Invalid Gherkin: no 'Feature:' found.")
    return document


def feature_problem(source: str) -> str | None:
    """What is wrong with a feature's text, or None: the check catalog.steps calls."""
    try:
        parse_feature(source)
    except GherkinSyntaxError as exc:
        return str(exc)
    return None
