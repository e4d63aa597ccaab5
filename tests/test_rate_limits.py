"""Rate limits: failed sign-ins per address and username (the three sign-in forms and the token
endpoint share the count), token requests per address, JUnit imports per user. Each refusal is a
429 in the one error shape with a Retry-After header.

Limits here are per day: the sign-in counters use fixed windows, and a test that crossed a window
boundary half-way would see its count reset.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import Client
from rest_framework.authtoken.models import Token

from core.env import env_rate
from tests.factories import UserFactory

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "pw-for-tests-123"  # tests.factories.UserFactory
SIGN_IN_FORMS = ["/accounts/login/", "/api/v1/auth/login/", "/admin/login/"]
TOKEN = "/api/v1/auth/token/"
LIMIT = 3


@pytest.fixture
def user(db):
    return UserFactory(is_staff=True)  # staff, so the admin's form would let them in


@pytest.fixture(autouse=True)
def _small_limits(settings):
    settings.IB_RATE_LOGIN = f"{LIMIT}/day"
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"token": f"{LIMIT}/day", "imports": f"{LIMIT}/day"},
    }


def sign_in(url: str, username: str, password: str, address: str = "10.0.0.1", **headers):
    return Client().post(
        url, {"username": username, "password": password}, REMOTE_ADDR=address, **headers
    )


def fail_sign_ins(url: str, username: str, times: int = LIMIT, address: str = "10.0.0.1"):
    for _ in range(times):
        assert sign_in(url, username, "wrong", address).status_code == 200  # the form again


def assert_throttled(response) -> dict:
    assert response.status_code == 429, response.content[:300]
    retry_after = int(response["Retry-After"])
    assert 0 < retry_after <= 86400
    body = response.json()
    assert body["code"] == "throttled"
    assert body["message"]
    assert body["detail"] == {"retry_after": retry_after}
    return body


# --- the sign-in forms ------------------------------------------------------------------------


@pytest.mark.parametrize("url", SIGN_IN_FORMS)
def test_sign_in_is_refused_after_too_many_failures(user, url):
    fail_sign_ins(url, user.username)

    assert_throttled(sign_in(url, user.username, "wrong"))


def test_the_right_password_is_refused_too_while_refused(user):
    fail_sign_ins("/accounts/login/", user.username)

    browser = Client()
    response = browser.post(
        "/accounts/login/",
        {"username": user.username, "password": PASSWORD},
        REMOTE_ADDR="10.0.0.1",
    )

    assert_throttled(response)
    assert "_auth_user_id" not in browser.session


def test_failures_for_one_username_do_not_block_another(user):
    fail_sign_ins("/accounts/login/", "someone-else")

    assert sign_in("/accounts/login/", user.username, PASSWORD).status_code == 302


def test_failures_from_one_address_do_not_block_another(user):
    fail_sign_ins("/accounts/login/", user.username, address="10.0.0.1")

    response = sign_in("/accounts/login/", user.username, PASSWORD, address="10.0.0.2")

    assert response.status_code == 302


def test_a_forwarded_for_header_does_not_buy_a_fresh_count(user):
    fail_sign_ins("/accounts/login/", user.username)

    response = sign_in(
        "/accounts/login/", user.username, "wrong", HTTP_X_FORWARDED_FOR="203.0.113.9"
    )

    assert_throttled(response)


def test_the_count_is_per_username_whatever_its_case(user):
    fail_sign_ins("/accounts/login/", user.username.upper())

    assert_throttled(sign_in("/accounts/login/", user.username, "wrong"))


def test_a_successful_sign_in_clears_earlier_failures(user):
    fail_sign_ins("/accounts/login/", user.username, times=LIMIT - 1)
    assert sign_in("/accounts/login/", user.username, PASSWORD).status_code == 302

    fail_sign_ins("/accounts/login/", user.username, times=LIMIT - 1)

    assert sign_in("/accounts/login/", user.username, "wrong").status_code == 200


def test_failures_at_one_sign_in_form_count_at_the_others(user):
    fail_sign_ins("/api/v1/auth/login/", user.username)

    assert_throttled(sign_in("/admin/login/", user.username, "wrong"))


# --- the token endpoint -----------------------------------------------------------------------


def test_the_token_endpoint_trades_a_password_for_the_users_token(user, anon_api):
    response = anon_api.post(TOKEN, {"username": user.username, "password": PASSWORD})

    assert response.status_code == 200
    assert response.json() == {"token": Token.objects.get(user=user).key}


def test_the_token_endpoint_answers_a_wrong_password_with_401(user, anon_api):
    response = anon_api.post(TOKEN, {"username": user.username, "password": "wrong"})

    assert response.status_code == 401
    assert set(response.json()) >= {"code", "message", "detail"}
    assert not Token.objects.filter(user=user).exists()


def test_the_token_endpoint_is_throttled_per_address(user, anon_api):
    for _ in range(LIMIT):
        anon_api.post(TOKEN, {"username": user.username, "password": PASSWORD})

    response = anon_api.post(TOKEN, {"username": user.username, "password": PASSWORD})

    assert_throttled(response)


def test_wrong_passwords_at_the_token_endpoint_count_at_the_sign_in_forms(user, anon_api, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"token": "100/day", "imports": "100/day"},
    }
    for _ in range(LIMIT):
        anon_api.post(
            TOKEN, {"username": user.username, "password": "wrong"}, REMOTE_ADDR="10.0.0.1"
        )

    assert_throttled(sign_in("/accounts/login/", user.username, PASSWORD))


def test_the_token_endpoint_refuses_a_blocked_username_before_the_password(
    user, anon_api, settings
):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"token": "100/day", "imports": "100/day"},
    }
    fail_sign_ins("/accounts/login/", user.username, address="127.0.0.1")

    response = anon_api.post(TOKEN, {"username": user.username, "password": PASSWORD})

    assert_throttled(response)
    assert not Token.objects.filter(user=user).exists()


# --- JUnit imports ----------------------------------------------------------------------------

REPORT = (
    b'<testsuites><testsuite name="s"><testcase classname="c" name="n"/></testsuite></testsuites>'
)


def test_imports_are_throttled_per_user(owner_api, project):
    url = f"/api/v1/imports/junit/?project={project.pk}"
    for number in range(LIMIT):
        owner_api.post(url, REPORT + b" " * number, content_type="application/xml")

    response = owner_api.post(url, REPORT, content_type="application/xml")

    assert_throttled(response)


# --- configuration ----------------------------------------------------------------------------


def test_a_malformed_rate_stops_start_up(monkeypatch):
    monkeypatch.setenv("IB_RATE_LOGIN", "ten a minute")

    with pytest.raises(ImproperlyConfigured, match="IB_RATE_LOGIN"):
        env_rate("IB_RATE_LOGIN", "10/min")


@pytest.mark.parametrize(
    ("redis_url", "backend"),
    [
        ("", "django.core.cache.backends.locmem.LocMemCache"),
        ("redis://127.0.0.1:6379/0", "django.core.cache.backends.redis.RedisCache"),
    ],
)
def test_the_counters_live_in_redis_when_there_is_one(redis_url, backend):
    script = "import django; django.setup(); from django.conf import settings; "
    script += "print(settings.CACHES['default']['BACKEND'])"
    env = {
        **os.environ,
        "REDIS_URL": redis_url,
        "Q_BROKER": "orm",  # the Redis broker would need REDIS_URL
        "DJANGO_SETTINGS_MODULE": "intellibrowse.settings",
    }

    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True
    )

    assert result.stdout.strip() == backend, result.stderr
