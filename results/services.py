"""Writes of the results app other than imports and processing: quarantine and CI hook secrets.

Each is one transaction with its audit record; the API, the admin and commands call these.
"""

import secrets

from django.db import transaction
from django.utils import timezone

from catalog.models import TestCase, TestSuite
from results.models import CaseEvent, CaseEventKind, SuiteHook


def case_set_quarantine(
    case: TestCase, *, quarantined: bool, actor=None, reason: str = ""
) -> TestCase:
    """Quarantine a case (it still runs and is recorded, but no longer fails its suite: the
    engine's rollup skips quarantined children) or release it. Records a CaseEvent with who and
    why; setting the state it already has records nothing."""
    with transaction.atomic():
        case = TestCase.objects.select_for_update().get(pk=case.pk)
        if case.quarantined == quarantined:
            return case
        case.quarantined = quarantined
        case.save(update_fields=["quarantined", "updated_at"])
        CaseEvent.objects.create(
            project_id=case.project_id,
            case=case,
            kind=CaseEventKind.QUARANTINED if quarantined else CaseEventKind.RELEASED,
            actor=actor if actor is not None and actor.is_authenticated else None,
            actor_label=actor.get_username() if actor is not None else "",
            reason=reason,
        )
    return case


def hook_rotate(suite: TestSuite, *, actor=None) -> SuiteHook:
    """Create the suite's CI hook, or replace its secret and badge key (the old ones stop working
    at once). The caller shows the new secret to the person who asked, once."""
    with transaction.atomic():
        hook, created = SuiteHook.objects.select_for_update().get_or_create(
            suite=suite,
            defaults={"secret": _secret(), "badge_key": _badge_key(), "created_by": _user(actor)},
        )
        if not created:
            hook.secret, hook.badge_key = _secret(), _badge_key()
            hook.rotated_at, hook.enabled = timezone.now(), True
            hook.save(update_fields=["secret", "badge_key", "rotated_at", "enabled"])
    return hook


def hook_set_enabled(suite: TestSuite, *, enabled: bool) -> SuiteHook | None:
    with transaction.atomic():
        hook = SuiteHook.objects.select_for_update().filter(suite=suite).first()
        if hook is not None and hook.enabled != enabled:
            hook.enabled = enabled
            hook.save(update_fields=["enabled"])
    return hook


def hook_mark_triggered(hook: SuiteHook) -> None:
    SuiteHook.objects.filter(pk=hook.pk).update(last_triggered_at=timezone.now())


def _secret() -> str:
    return secrets.token_hex(32)


def _badge_key() -> str:
    return secrets.token_urlsafe(18)


def _user(actor):
    return actor if actor is not None and actor.is_authenticated else None
