"""UI language: the user's explicit choice, else the site default (zh-Hans).

Django's LocaleMiddleware would follow the browser's Accept-Language, which on most shop-floor
PCs is English; medtrace is built for Chinese operations first, so only an explicit choice (the
language menu's cookie) switches away from settings.LANGUAGE_CODE.

Machine interfaces (/api/, /epcis/) answer in English unless the client's Accept-Language asks
for Chinese: integrators read and log those messages, and they do not carry the UI cookie.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import translation
from django.utils.cache import patch_vary_headers
from django.utils.translation.trans_real import parse_accept_lang_header

MACHINE_PREFIXES = ("/api/", "/epcis/")


class LanguageMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.supported = {code for code, _name in settings.LANGUAGES}

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith(MACHINE_PREFIXES):
            language = self._from_accept_language(request) or "en"
        else:
            chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME, "")
            language = chosen if chosen in self.supported else settings.LANGUAGE_CODE
        translation.activate(language)
        request.LANGUAGE_CODE = language
        response = self.get_response(request)
        patch_vary_headers(response, ("Cookie",))
        response.headers.setdefault("Content-Language", language)
        translation.deactivate()
        return response

    def _from_accept_language(self, request: HttpRequest) -> str | None:
        header = request.headers.get("Accept-Language", "")
        for code, _quality in parse_accept_lang_header(header):
            if code == "*":
                continue
            try:
                return translation.get_supported_language_variant(code)
            except LookupError:
                continue
        return None
