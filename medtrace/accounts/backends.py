"""Authentication backends."""

from __future__ import annotations

from typing import Any

from axes.backends import AxesStandaloneBackend
from django.http import HttpRequest


class LockoutBackend(AxesStandaloneBackend):
    """django-axes lockout for logins over HTTP.

    Axes counts failures per username and client IP, so it needs the request. Authentication
    without one (the test client's ``login``, scripts) has no client to lock out and passes on
    to the model backend; every HTTP login form and API sign-in passes the request.
    """

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> Any:
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)
