"""Login hardening (DESIGN §9): lockout, argon2, CSRF, cookies, session timeout, rate limits."""

from __future__ import annotations

import io
import json
from datetime import timedelta
from typing import Any

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth.hashers import identify_hasher
from django.contrib.sessions.models import Session
from django.core.management import call_command
from django.test import Client, override_settings
from django.utils import timezone

from medtrace.accounts.models import User
from medtrace.accounts.services import token_create
from medtrace.core import ratelimit

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"
PASSWORD = "a long pass phrase 42"


@pytest.fixture
def carol(db: None) -> User:
    return User.objects.create_user(username="carol", password=PASSWORD)


def _post_login(client: Client, password: str, username: str = "carol") -> Any:
    return client.post(LOGIN, {"username": username, "password": password})


# -- lockout (django-axes) -----------------------------------------------------------------------


def test_the_form_locks_out_after_the_failure_limit_with_429_and_retry_after(
    carol: User,
) -> None:
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        response = _post_login(client, "wrong")
        assert response.status_code == 200  # the form again, with its error
        assert "_auth_user_id" not in client.session

    response = _post_login(client, "wrong")

    assert response.status_code == 429
    assert response["Retry-After"] == str(int(settings.AXES_COOLOFF_TIME.total_seconds()))
    assert "registration/locked_out.html" in [t.name for t in response.templates]
    # Locked: even the right password is refused now.
    response = _post_login(client, PASSWORD)
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


def test_a_successful_login_resets_the_failure_count(carol: User) -> None:
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        _post_login(client, "wrong")

    response = _post_login(client, PASSWORD)
    assert response.status_code == 302 and client.session["_auth_user_id"] == str(carol.pk)
    assert not AccessAttempt.objects.filter(username="carol").exists()

    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert _post_login(client, "wrong").status_code == 200  # counting from zero again


def test_the_lockout_is_per_username_and_address(carol: User) -> None:
    User.objects.create_user(username="dave", password=PASSWORD)
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _post_login(client, "wrong")

    assert _post_login(client, PASSWORD, username="dave").status_code == 302
    other_address = Client(REMOTE_ADDR="10.0.0.9")
    assert _post_login(other_address, PASSWORD).status_code == 302


def test_an_admin_unlocks_with_axes_reset_username(carol: User) -> None:
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _post_login(client, "wrong")
    assert _post_login(client, PASSWORD).status_code == 429

    call_command("axes_reset_username", "carol", stdout=io.StringIO())

    assert _post_login(client, PASSWORD).status_code == 302


def test_axes_reset_unlocks_everyone(carol: User) -> None:
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _post_login(client, "wrong")

    call_command("axes_reset", stdout=io.StringIO())

    assert _post_login(client, PASSWORD).status_code == 302


def test_the_admin_login_is_locked_out_too(admin_user: User) -> None:
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post("/admin/login/", {"username": "admin_user", "password": "wrong"})

    response = client.post("/admin/login/", {"username": "admin_user", "password": "pw-admin_user"})

    assert response.status_code == 429 and "Retry-After" in response


# -- passwords, CSRF, cookies, session -----------------------------------------------------------


def test_a_newly_set_password_is_hashed_with_argon2(
    carol: User, production_password_hashers: list[str]
) -> None:
    carol.set_password("another long pass phrase")
    carol.save()

    carol.refresh_from_db()
    assert identify_hasher(carol.password).algorithm == "argon2"
    assert carol.password.startswith("argon2$argon2id$")


def test_the_login_form_refuses_a_post_without_the_csrf_token(carol: User) -> None:
    client = Client(enforce_csrf_checks=True)

    response = _post_login(client, PASSWORD)

    assert response.status_code == 403
    assert "_auth_user_id" not in client.session


def test_the_login_form_accepts_a_post_with_the_csrf_token(carol: User) -> None:
    client = Client(enforce_csrf_checks=True)
    client.get(LOGIN)
    token = client.cookies[settings.CSRF_COOKIE_NAME].value

    response = client.post(
        LOGIN, {"username": "carol", "password": PASSWORD, "csrfmiddlewaretoken": token}
    )

    assert response.status_code == 302


def test_session_api_writes_need_the_csrf_token(qa_manager: User) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(qa_manager)
    body = json.dumps({"name": "Acme", "role": "supplier", "gs1_company_prefix": "6920199"})

    refused = client.post("/api/v1/parties", body, content_type="application/json")

    assert refused.status_code in (401, 403)
    client.get(LOGIN)  # sets the CSRF cookie
    token = client.cookies[settings.CSRF_COOKIE_NAME].value
    accepted = client.post(
        "/api/v1/parties", body, content_type="application/json", HTTP_X_CSRFTOKEN=token
    )
    assert accepted.status_code not in (401, 403), accepted.content


def test_session_epcis_capture_needs_the_csrf_token(qa_manager: User) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(qa_manager)

    response = client.post("/epcis/capture", "{}", content_type="application/json")

    assert response.status_code == 403
    assert response["Content-Type"] == "application/problem+json"


def test_bearer_token_writes_need_no_csrf_token(qa_manager: User) -> None:
    _token, raw = token_create(user=qa_manager, scopes=["epcis:capture"])
    client = Client(enforce_csrf_checks=True, HTTP_AUTHORIZATION=f"Bearer {raw}")

    response = client.post("/epcis/capture", "{}", content_type="application/json")

    assert response.status_code not in (401, 403)


def test_session_and_csrf_cookies_are_httponly_lax_and_secure_outside_debug(
    carol: User,
) -> None:
    assert settings.SESSION_COOKIE_HTTPONLY is True
    assert settings.SESSION_COOKIE_SAMESITE == "Lax"
    assert settings.DEBUG is False
    assert settings.SESSION_COOKIE_SECURE is True and settings.CSRF_COOKIE_SECURE is True

    client = Client()
    response = _post_login(client, PASSWORD)

    cookie = response.cookies[settings.SESSION_COOKIE_NAME]
    assert cookie["httponly"] and cookie["secure"] and cookie["samesite"] == "Lax"
    assert not cookie["max-age"]  # ends with the browser, too


def test_an_idle_session_expires_after_the_session_timeout(carol: User) -> None:
    assert settings.SESSION_COOKIE_AGE == 30 * 60
    assert settings.SESSION_SAVE_EVERY_REQUEST is True
    client = Client()
    _post_login(client, PASSWORD)
    key = client.session.session_key

    # Each request pushes the expiry out by the full timeout: it is an idle timeout.
    Session.objects.filter(pk=key).update(expire_date=timezone.now() + timedelta(minutes=1))
    assert client.get("/account/tokens/").status_code == 200
    expiry = Session.objects.get(pk=key).expire_date
    assert expiry > timezone.now() + timedelta(minutes=29)

    Session.objects.filter(pk=key).update(expire_date=timezone.now() - timedelta(seconds=1))
    response = client.get("/account/tokens/")
    assert response.status_code == 302 and response["Location"].startswith(LOGIN)


# -- rate limits -----------------------------------------------------------------------------------


@override_settings(RATE_LIMITS={"login": "3/60", "capture": "120/60"})
def test_login_posts_beyond_the_rate_limit_answer_429_with_retry_after(carol: User) -> None:
    client = Client()
    for _ in range(3):
        assert _post_login(client, "wrong", username="nobody").status_code == 200

    response = _post_login(client, PASSWORD)

    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 60
    assert "web/rate_limited.html" in [t.name for t in response.templates]
    assert "_auth_user_id" not in client.session
    # Reading the form is not limited; another address is not affected.
    assert client.get(LOGIN).status_code == 200
    assert _post_login(Client(REMOTE_ADDR="10.0.0.7"), PASSWORD).status_code == 302


@override_settings(RATE_LIMITS={"login": "2/60", "capture": "120/60"})
def test_the_admin_login_is_rate_limited_with_the_login_rule(db: None) -> None:
    client = Client()
    for _ in range(2):
        client.post("/admin/login/", {"username": "x", "password": "y"})

    response = client.post("/admin/login/", {"username": "x", "password": "y"})

    assert response.status_code == 429 and response["Retry-After"]


@override_settings(RATE_LIMITS={"login": "20/60", "capture": "2/60"})
def test_capture_beyond_the_rate_limit_is_an_rfc7807_problem(qa_manager: User) -> None:
    _token, raw = token_create(user=qa_manager, scopes=["epcis:capture"])
    client = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
    for _ in range(2):
        response = client.post("/epcis/capture", "{}", content_type="application/json")
        assert response.status_code != 429

    capture = client.post("/epcis/capture", "{}", content_type="application/json")
    event = client.post("/epcis/events", "{}", content_type="application/json")

    for response in (capture, event):
        assert response.status_code == 429
        assert response["Content-Type"] == "application/problem+json"
        assert 1 <= int(response["Retry-After"]) <= 60
        body = response.json()
        assert body["status"] == 429 and body["retryAfter"] == int(response["Retry-After"])
        assert "capture requests" in body["detail"]
    # Reads are not limited; another token has its own budget.
    _token2, raw2 = token_create(user=qa_manager, scopes=["epcis:capture"])
    other = Client(HTTP_AUTHORIZATION=f"Bearer {raw2}")
    assert other.post("/epcis/capture", "{}", content_type="application/json").status_code != 429
    assert client.get("/epcis/capture").status_code == 200


@override_settings(RATE_LIMITS={"login": "20/60", "capture": "1/60"})
def test_session_capture_is_counted_per_user(qa_manager: User, auditor: User) -> None:
    first = Client()
    first.force_login(qa_manager)
    second = Client()
    second.force_login(qa_manager)
    third = Client()
    third.force_login(auditor)

    assert first.post("/epcis/capture", "{}", content_type="application/json").status_code != 429
    assert second.post("/epcis/capture", "{}", content_type="application/json").status_code == 429
    assert third.post("/epcis/capture", "{}", content_type="application/json").status_code != 429


def test_the_window_resets_and_retry_after_counts_down() -> None:
    with override_settings(RATE_LIMITS={"login": "2/60", "capture": "1/1"}):
        start = 6000.0  # a window boundary
        assert ratelimit.hit("login", "k", now=start).allowed
        assert ratelimit.hit("login", "k", now=start + 10).allowed
        refused = ratelimit.hit("login", "k", now=start + 15.5)
        assert not refused.allowed and refused.retry_after == 45
        assert ratelimit.hit("login", "other", now=start + 15.5).allowed
        assert ratelimit.hit("login", "k", now=start + 60).allowed  # the next window


def test_an_api_rate_limit_has_the_api_error_shape_and_retry_after(
    rf: Any, qa_manager: User
) -> None:
    from medtrace.api import api

    request = rf.post("/api/v1/anything")
    exc = ratelimit._refusal(
        "login", ratelimit.Decision(False, ratelimit.Rule(5, 60), used=6, retry_after=12)
    )
    response = api.on_exception(request, exc)

    assert response.status_code == 429 and response["Retry-After"] == "12"
    body = json.loads(response.content)
    assert body["error"] == "rate_limited" and body["field"] is None
    assert body["details"] == {"limit": 5, "window_seconds": 60, "retry_after": 12}
    assert "Try again in 12 seconds" in body["message"]
    direct = ratelimit.response_for(request, exc)
    assert direct.status_code == 429 and json.loads(direct.content) == body


@override_settings(RATE_LIMITS={"login": "2/60", "capture": "120/60"})
def test_successful_sign_ins_are_not_throttled(carol: User) -> None:
    client = Client()
    for _ in range(5):
        response = _post_login(client, PASSWORD)
        assert response.status_code == 302
        client.logout()

    assert _post_login(client, "wrong").status_code == 200
    assert _post_login(client, "wrong").status_code == 200
    assert _post_login(client, PASSWORD).status_code == 429
