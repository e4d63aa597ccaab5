"""The CI hook: a pipeline starts a suite run with a signed (or token-authenticated) POST.

Credentials, per suite (results.models.SuiteHook):
- `X-IntelliBrowse-Signature: sha256=<hex HMAC-SHA256 of the raw body, keyed with the secret>`
  (GitHub-style; the secret never travels), or
- `X-IntelliBrowse-Token: <secret>` for tools that cannot sign.
A user's own API token with the tester role works too (the API's usual authentication).
"""

import hashlib
import hmac

from django.db import transaction

from catalog.models import TestSuite
from executions.models import Execution, Trigger
from executions.services.create import execution_create
from results.errors import HookBadSignature, HookUnauthenticated
from results.models import SuiteHook
from results.services import hook_mark_triggered

SIGNATURE_HEADER = "X-IntelliBrowse-Signature"
TOKEN_HEADER = "X-IntelliBrowse-Token"  # noqa: S105 (a header name)


def signature_of(secret: str, body: bytes) -> str:
    """The header value a client sends: sha256=<hex>."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def hook_verify(suite_id: int, *, body: bytes, signature: str, token: str) -> SuiteHook:
    """The enabled hook of suite `suite_id` (its suite and project loaded) if the signature or
    token matches its secret.

    Raises HookUnauthenticated (401) when neither was sent, HookBadSignature (403) otherwise; a
    suite without a hook, and an id no suite has, answer the same as a wrong secret, so a caller
    learns nothing more."""
    if not signature and not token:
        raise HookUnauthenticated(
            f"Sign the body ({SIGNATURE_HEADER}: sha256=<hex>) or send {TOKEN_HEADER}."
        )
    hook = (
        SuiteHook.objects.select_related("suite__project")
        .filter(suite_id=suite_id, enabled=True)
        .first()
    )
    secret = hook.secret if hook else ""
    if signature:
        ok = bool(secret) and hmac.compare_digest(signature_of(secret, body), signature.strip())
    else:
        ok = bool(secret) and hmac.compare_digest(secret.encode(), token.strip().encode())
    if not ok:
        raise HookBadSignature("The signature or token does not match this suite's CI hook.")
    return hook


def hook_trigger(suite: TestSuite, *, hook: SuiteHook | None, actor=None, **options) -> Execution:
    """Start a run of the suite for CI (trigger=ci) with the revision, branch ... given.
    Raises NotRunnable (400) when the suite has nothing to run."""
    with transaction.atomic():
        execution = execution_create(
            project=suite.project, test_suite=suite, actor=actor, trigger=Trigger.CI, **options
        )
        if hook is not None:
            hook_mark_triggered(hook)
    return execution
