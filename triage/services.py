"""Writes of triage: categories, rules, and what a person says about a group or one result.

One function per change, called by the API, the admin and the dashboard alike; each runs in one
transaction and records a TriageEvent (the audit trail). Callers check who may (catalog.access:
testers and maintainers triage; maintainers edit categories and rules); `actor` is who to record.
"""

import re
from urllib.parse import urlsplit

import re2
from django.db import IntegrityError, transaction
from django.utils import timezone

from triage.errors import TriageError
from triage.models import (
    DEFAULT_CATEGORIES,
    Category,
    FailureGroup,
    GroupHit,
    RuleField,
    TriageEvent,
    TriageRule,
)

UNSET = object()  # a field the caller leaves as it is
COMMENT_MAX = 10_000
# Rules run inside imports and engine finishes, so a pattern that backtracks catastrophically
# ("(a+)+$", "(a|aa)+$") would stall them. Python's re has no time limit: a repeated group and a
# backreference are refused (rules are words and simple classes: "Connection (refused|reset)").
_REPEATED_GROUP = re.compile(r"\)\s*(?:[+*]|\{\d*,)")
_BACKREFERENCE = re.compile(r"\\[1-9]|\(\?P=")


def categories_ensure(project_id: int) -> Category:
    """The project's default category, creating the four defaults the first time."""
    default = Category.objects.filter(project_id=project_id, is_default=True).first()
    if default is not None:
        return default
    with transaction.atomic():
        Category.objects.bulk_create(
            [
                Category(project_id=project_id, name=name, is_default=is_default, position=i)
                for i, (name, is_default) in enumerate(DEFAULT_CATEGORIES)
            ],
            ignore_conflicts=True,
        )
    default = Category.objects.filter(project_id=project_id, is_default=True).first()
    if default is None:  # a project that renamed all defaults away and has none marked
        raise TriageError("This project has no default category.")
    return default


def triage_set(
    target: FailureGroup | GroupHit,
    *,
    actor,
    category: Category | object | None = UNSET,
    comment: str | object = UNSET,
    issue_url: str | object = UNSET,
) -> TriageEvent | None:
    """Set the category, comment and / or issue link of a group or of one result (a hit).

    On a result, category None clears its own triage (the group's applies again). Only the
    fields given change; nothing changed records nothing and returns None.
    Raises TriageError (400): a category of another project, a link that is not http(s), a
    comment too long."""
    with transaction.atomic():
        model = type(target)
        locked = model.objects.select_for_update().get(pk=target.pk)
        changes = {}
        if category is not UNSET:
            if category is not None and category.project_id != locked.project_id:
                raise TriageError("That category belongs to another project.")
            if category is None and model is FailureGroup:
                raise TriageError("A failure group always has a category.")
            before = locked.category.name if locked.category_id else None
            if locked.category_id != (category.pk if category else None):
                changes["category"] = [before, category.name if category else None]
                locked.category = category
        if comment is not UNSET:
            comment = _checked_comment(comment)
            if comment != locked.comment:
                changes["comment"] = [locked.comment, comment]
                locked.comment = comment
        if issue_url is not UNSET:
            issue_url = checked_url(issue_url)
            if issue_url != locked.issue_url:
                changes["issue_url"] = [locked.issue_url, issue_url]
                locked.issue_url = issue_url
        if not changes:
            return None
        label = _label(actor)
        if model is FailureGroup:
            locked.triaged_by = actor if getattr(actor, "is_authenticated", False) else None
            locked.triaged_label, locked.triaged_at = label, timezone.now()
        locked.save()
        target.__dict__.update({k: v for k, v in locked.__dict__.items() if k != "_state"})
        return TriageEvent.objects.create(
            project_id=locked.project_id,
            group_id=locked.pk if model is FailureGroup else locked.group_id,
            hit=locked if model is GroupHit else None,
            actor=locked.triaged_by if model is FailureGroup else _user(actor),
            actor_label=label,
            changes=changes,
        )


def _user(actor):
    return actor if getattr(actor, "is_authenticated", False) else None


def _label(actor) -> str:
    if getattr(actor, "is_authenticated", False):
        return actor.get_username()
    return str(actor or "system")[:200]


def _checked_comment(comment) -> str:
    comment = str(comment or "").strip()
    if len(comment) > COMMENT_MAX:
        raise TriageError(f"A comment holds at most {COMMENT_MAX:,} characters.")
    return comment


def checked_url(url) -> str:
    url = str(url or "").strip()
    if not url:
        return ""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or len(url) > 500:
        raise TriageError("The issue link must be an http(s) URL of at most 500 characters.")
    return url


# Rules match with RE2 (google-re2), in time linear in the text: Python's `re` backtracks, and an
# outsider found patterns the checks below let through (`\w*\w*\w*\w*\w*\w*!`, `(\w+){10}!`)
# that held a web process for minutes on a 100-character message, while rules run as results
# are written.
_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False  # a refused pattern is the user's 400, not a server log line


def rule_matcher(pattern: str):
    """A rule's pattern compiled for matching. Raises re2.error when RE2 cannot run it."""
    return re2.compile(pattern, _RE2_OPTIONS)


def checked_pattern(pattern) -> str:
    """A rule's pattern, stripped, when it is a regular expression rules may run. Raises
    TriageError (400) otherwise."""
    pattern = str(pattern or "").strip()
    if not pattern or len(pattern) > 200:
        raise TriageError("A rule needs a pattern of 1 to 200 characters.")
    if _REPEATED_GROUP.search(pattern) or _BACKREFERENCE.search(pattern):
        raise TriageError(
            "Repeated groups such as (a+)+ and backreferences are refused: they can make "
            "matching take forever, and rules run while results are written."
        )
    try:
        rule_matcher(pattern)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else ""
        reason = reason.decode(errors="replace") if isinstance(reason, bytes) else str(reason)
        raise TriageError(
            "The pattern is not a regular expression rules can run (RE2 syntax: no "
            f"backreferences or look-arounds): {reason}."
        ) from exc
    return pattern


# --- categories ----------------------------------------------------------------------------------


def category_save(
    *, project_id: int, name: str, category: Category | None = None, position: int | None = None
) -> Category:
    """Create a category, or rename / move one. Raises TriageError (400) for an empty or taken
    name."""
    name = (name or "").strip()
    if not name or len(name) > 80:
        raise TriageError("A category needs a name of 1 to 80 characters.")
    categories_ensure(project_id)
    try:
        with transaction.atomic():
            if category is None:
                category = Category(project_id=project_id)
            category.name = name
            if position is not None:
                category.position = position
            category.save()
    except IntegrityError as exc:
        raise TriageError(f"The category {name!r} exists already.", code="duplicate") from exc
    return category


def category_delete(category: Category) -> None:
    """Delete a category; its groups go back to the default. The default cannot be deleted."""
    if category.is_default:
        raise TriageError("The default category cannot be deleted.")
    with transaction.atomic():
        default = categories_ensure(category.project_id)
        FailureGroup.objects.filter(category=category).update(category=default)
        category.delete()


# --- rules ---------------------------------------------------------------------------------------


def rule_save(
    *,
    project_id: int,
    category: Category,
    field: str,
    pattern: str,
    position: int = 0,
    enabled: bool = True,
    rule: TriageRule | None = None,
) -> TriageRule:
    """Create or change a rule. Raises TriageError (400): a bad pattern, field or category."""
    if category.project_id != project_id:
        raise TriageError("That category belongs to another project.")
    if field not in RuleField.values:
        raise TriageError(f"A rule matches one of: {', '.join(RuleField.values)}.")
    pattern = checked_pattern(pattern)
    rule = rule or TriageRule(project_id=project_id)
    rule.category, rule.field, rule.pattern = category, field, pattern
    rule.position, rule.enabled = position, enabled
    rule.save()
    return rule
