"""/account/tokens/: a signed-in user's own API tokens (list, create, revoke).

The secret of a new token is in the one response that creates it (never cached) and nowhere
else. Someone else's token is a 404, whether it exists or not.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from medtrace.accounts.models import ApiToken, User
from medtrace.accounts.services import (
    MAX_TOKEN_DAYS_UI,
    scopes_for,
    token_create,
    token_list,
    token_revoke,
    token_status,
)
from medtrace.errors import MedtraceError

SCOPE_HELP = {
    "masterdata:read": gettext_lazy("read master data (parties, locations, products, BOMs)"),
    "masterdata:write": gettext_lazy("change master data (within your role)"),
    "labels:read": gettext_lazy("render UDI labels"),
    "epcis:capture": gettext_lazy("capture EPCIS events"),
    "epcis:query": gettext_lazy("query the EPCIS ledger"),
    "trace:read": gettext_lazy("trace units (timeline, forward, backward)"),
    "recall:ack": gettext_lazy("acknowledge recall notices"),
    "audit:read": gettext_lazy("read the audit trail, record histories and signatures"),
    "records:sign": gettext_lazy("e-sign records (the password is still asked every time)"),
    "implants:read": gettext_lazy("read implant records (patient data masked)"),
    "implants:write": gettext_lazy("record implants"),
    "implants:reveal": gettext_lazy("reveal patient data (needs the permission; audited)"),
    "production:write": gettext_lazy("allocate serial numbers (within your role)"),
}


class TokenForm(forms.Form):
    name = forms.CharField(
        label=gettext_lazy("Name"),
        max_length=100,
        help_text=gettext_lazy("What the token is for, e.g. the line's MES."),
    )
    scopes = forms.MultipleChoiceField(
        label=gettext_lazy("Scopes"),
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": gettext_lazy("Choose at least one scope.")},
    )
    days = forms.IntegerField(
        label=gettext_lazy("Valid for (days)"),
        min_value=1,
        max_value=MAX_TOKEN_DAYS_UI,
        initial=90,
    )

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["scopes"].choices = [  # type: ignore[attr-defined]
            (scope, f"{scope} — {SCOPE_HELP[scope]}" if scope in SCOPE_HELP else scope)
            for scope in sorted(scopes_for(user))
        ]


def _user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)  # login_required
    return request.user


def _rows(user: User) -> list[dict[str, Any]]:
    now = timezone.now()
    return [{"token": t, "status": token_status(t, now=now)} for t in token_list(user=user)]


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def token_page(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    created: ApiToken | None = None
    raw: str | None = None
    status = 200
    if request.method == "POST":
        form = TokenForm(request.POST, user=user)
        if form.is_valid():
            try:
                created, raw = token_create(
                    user=user,
                    scopes=form.cleaned_data["scopes"],
                    days=form.cleaned_data["days"],
                    name=form.cleaned_data["name"],
                    actor=user,
                )
            except MedtraceError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
                status = 422
            else:
                form = TokenForm(user=user)
                status = 200
        else:
            status = 422
    else:
        form = TokenForm(user=user)
    return render(
        request,
        "web/tokens.html",
        {"form": form, "rows": _rows(user), "created": created, "raw": raw},
        status=status,
    )


@login_required
@require_POST
def token_revoke_view(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    token = ApiToken.objects.select_related("user").filter(pk=pk, user=user).first()
    if token is None:
        raise Http404("No such token")
    if token_revoke(token=token, actor=user):
        messages.success(request, _("Token %(prefix)s… is revoked.") % {"prefix": token.prefix})
    else:
        messages.info(
            request, _("Token %(prefix)s… was already revoked.") % {"prefix": token.prefix}
        )
    return redirect("web:tokens")
