"""The API's JSON parser (settings REST_FRAMEWORK DEFAULT_PARSER_CLASSES): DRF's, hardened.

Every JSON body goes through here, so bad input is refused once, before any view, serializer or
database sees it, with the one error shape (core.api_errors):

- larger than DATA_UPLOAD_MAX_MEMORY_SIZE: 413. DRF reads the request stream itself, so Django's own
  limit (which guards request.body and forms) never applies to JSON; this reads at most limit + 1
  bytes, so a huge body costs no more memory than an allowed one;
- nested deeper than MAX_DEPTH: 400. Python's decoder recurses, 100,000 levels end in a
  RecursionError (a 500), and even a few hundred levels would blow the stack of code that walks
  step parameters;
- text holding NUL or lone surrogates: 400. PostgreSQL refuses U+0000 in text and jsonb, and a
  lone surrogate ("\\ud800") cannot be encoded as UTF-8 for either database: both were 500s at the
  first write.
"""

import codecs
import re

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from rest_framework import parsers
from rest_framework.exceptions import ParseError
from rest_framework.utils import json  # the stdlib module plus strict_constant (no NaN)

MAX_DEPTH = 64


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        raw = _read_bounded(stream, settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
        encoding = parsers.get_encoding(parser_context)
        try:
            text = codecs.decode(raw, encoding)
            parse_constant = json.strict_constant if self.strict else None
            data = json.loads(text, parse_constant=parse_constant)
        except RecursionError:
            raise ParseError(f"JSON nested deeper than {MAX_DEPTH} levels.") from None
        except ValueError as exc:  # also UnicodeDecodeError: bytes that are not `encoding`
            raise ParseError(f"JSON parse error - {exc}") from None
        check_json_value(data)
        return data


class ReplacingJSONParser(JSONParser):
    """For bodies that carry what a test printed (a reported run's batch: stdout, tracebacks):
    NULs and lone surrogates in string values become U+FFFD instead of a 400, as the JUnit import
    replaces control characters, because one test's output must not cost a whole batch. How
    many were replaced is left on the view (`replaced_characters`) for the answer to say so."""

    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        raw = _read_bounded(stream, settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
        try:
            text = codecs.decode(raw, parsers.get_encoding(parser_context))
            data = json.loads(text, parse_constant=json.strict_constant if self.strict else None)
        except RecursionError:
            raise ParseError(f"JSON nested deeper than {MAX_DEPTH} levels.") from None
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
        replaced = replace_unstorable(data)
        if parser_context.get("view") is not None:
            parser_context["view"].replaced_characters = replaced
        check_json_value(data)  # depth, and keys (never replaced: a key is not output)
        return data


def replace_unstorable(data) -> int:
    """Replace NULs and lone surrogates in the string values of `data`, in place; returns how many
    characters were replaced. Iterative; stops descending at MAX_DEPTH (check_json_value then
    refuses the document)."""
    count = 0
    pending = [(data, 1)]
    while pending:
        value, depth = pending.pop()
        if depth > MAX_DEPTH:
            continue
        slots = value.items() if isinstance(value, dict) else enumerate(value)
        for slot, child in list(slots):
            if isinstance(child, str):
                clean, n = _UNSTORABLE.subn("\ufffd", child)
                if n:
                    value[slot], count = clean, count + n
            elif isinstance(child, dict | list):
                pending.append((child, depth + 1))
    return count


_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _read_bounded(stream, limit: int | None) -> bytes:
    if limit is None:
        return stream.read()
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise RequestDataTooBig(f"The request body is larger than {limit:,} bytes.")
    return data


def check_json_value(data) -> None:
    """Raise ParseError for what no database can store or no code should walk (see above).

    Iterative, so it cannot itself run out of stack on the input it is guarding against."""
    pending = [(data, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, str):
            _check_text(value)
            continue
        if isinstance(value, dict):
            children = list(value.values())
            for key in value:
                _check_text(key)
        elif isinstance(value, list):
            children = value
        else:
            continue
        if children and depth >= MAX_DEPTH:
            raise ParseError(f"JSON nested deeper than {MAX_DEPTH} levels.")
        pending.extend((child, depth + 1) for child in children)


def _check_text(text: str) -> None:
    if "\x00" in text:
        raise ParseError("Text may not contain NUL characters (\\u0000).")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ParseError(
            "Text may not contain lone UTF-16 surrogates (\\ud800-\\udfff without a pair)."
        ) from None
