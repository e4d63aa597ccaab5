"""Rate limits, kept in Django's cache (Redis when REDIS_URL is set, so every web process counts
together; process memory otherwise).

Two mechanisms, both answering 429 with the one error shape and a Retry-After header:

- ScopedRateThrottle, for API views: a view opts in with `throttle_scope = "<scope>"` (it is in
  DEFAULT_THROTTLE_CLASSES); the rates are REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] (settings,
  from IB_RATE_* variables). Counted per user, or per client address when anonymous.
- login_rate_limited, for the sign-in forms (/accounts/login/, /api/v1/auth/login/,
  /admin/login/): counts *failed* sign-ins per client address and username, so a person who
  mistypes a password twice is not locked out while a password guesser is, after IB_RATE_LOGIN
  failures in its window. Failures are counted from Django's user_login_failed signal, which every
  form that checks a password sends (intellibrowse.apps connects the receivers).
"""

import hashlib
import math
import time
from functools import wraps

from django.conf import settings
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.core.cache import cache
from django.http import JsonResponse
from rest_framework import throttling
from rest_framework.settings import api_settings

# Not from api_errors: it imports rest_framework.views, which loads DEFAULT_THROTTLE_CLASSES, that
# is this module.
from core.errors import error_body

_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(rate: str) -> tuple[int, int]:
    """(count, seconds) of a rate such as "10/min": DRF's format for throttle rates."""
    count, _, period = rate.partition("/")
    return int(count), _PERIODS[period.strip()[:1]]


def client_address(request) -> str:
    """The client's address, trusting X-Forwarded-For only as far as NUM_PROXIES says (DRF's
    rule; with the default 0, a client cannot pick its own address with a header)."""
    return throttling.BaseThrottle().get_ident(request) or ""


def too_many_requests(message: str, retry_after: int) -> JsonResponse:
    response = JsonResponse(
        error_body("throttled", message, {"retry_after": retry_after}), status=429
    )
    response["Retry-After"] = str(retry_after)
    return response


class ScopedRateThrottle(throttling.ScopedRateThrottle):
    """DRF's, reading the rates when a request comes in: DRF copies them once at import, so
    settings changed later (tests, override_settings) were ignored."""

    def get_rate(self):
        self.THROTTLE_RATES = api_settings.DEFAULT_THROTTLE_RATES
        return super().get_rate()


# --- failed sign-ins ----------------------------------------------------------------------------


def _login_key(request, username: str) -> tuple[str, int]:
    """The counter of this address and username in the current window, and the seconds left in
    that window. Fixed windows: one atomic increment per failure, no list of timestamps."""
    _, period = parse_rate(settings.IB_RATE_LOGIN)
    now = time.time()
    window = int(now // period)
    ident = f"{client_address(request)}\n{username.strip().lower()}"
    digest = hashlib.sha256(ident.encode("utf-8", "replace")).hexdigest()
    return f"ib:login-failures:{digest}:{window}", max(1, math.ceil((window + 1) * period - now))


def login_blocked_for(request, username: str) -> int | None:
    """Seconds until this address may try this username again, or None when it may now."""
    limit, _ = parse_rate(settings.IB_RATE_LOGIN)
    key, retry_after = _login_key(request, username)
    return retry_after if cache.get(key, 0) >= limit else None


def login_refused(retry_after: int) -> JsonResponse:
    return too_many_requests(
        f"Too many failed sign-ins; try again in {retry_after} seconds.", retry_after
    )


def on_login_failed(sender, credentials, request=None, **kwargs) -> None:
    if request is None:  # authenticate() called outside a request (a command, a test)
        return
    _, period = parse_rate(settings.IB_RATE_LOGIN)
    key, _ = _login_key(request, str(credentials.get("username", "")))
    cache.add(key, 0, timeout=period + 1)
    try:
        cache.incr(key)
    except ValueError:  # expired between add() and incr(): this failure starts a new count
        cache.set(key, 1, timeout=period + 1)


def on_logged_in(sender, request, user, **kwargs) -> None:
    """A successful sign-in clears the count, so earlier typos do not add up over the window."""
    if request is not None and request.method == "POST":
        cache.delete(_login_key(request, request.POST.get("username", ""))[0])


def connect_signals() -> None:
    user_login_failed.connect(on_login_failed, dispatch_uid="ib-login-failed")
    user_logged_in.connect(on_logged_in, dispatch_uid="ib-logged-in")


def login_rate_limited(view):
    """Wrap a sign-in view: a POST from an address and username over the limit is refused before
    the password is checked (so guessing stops even while the guesses would be right)."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if request.method == "POST":
            retry_after = login_blocked_for(request, request.POST.get("username", ""))
            if retry_after is not None:
                return login_refused(retry_after)
        return view(request, *args, **kwargs)

    return wrapped
