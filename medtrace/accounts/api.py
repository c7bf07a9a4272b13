"""/api/v1/tokens: a user's own API tokens, as on the tokens page (/account/tokens/).

A system rotates its own token without a person: it creates the next token and revokes the
old one. A request made with a token may create a token with at most that token's scopes, so a
leaked narrow token cannot mint a wider one; a signed-in person may choose any scope their
role allows (``scopes_for``). Someone else's token is a 404, whether it exists or not.
"""

from __future__ import annotations

from datetime import datetime

from django.http import HttpRequest
from ninja import Router, Schema, Status
from pydantic import ConfigDict, Field

from medtrace.accounts.models import ApiToken, User
from medtrace.accounts.services import (
    MAX_TOKEN_DAYS_UI,
    token_create,
    token_list,
    token_revoke,
    token_status,
)
from medtrace.errors import NotFound, PermissionDenied

router = Router(tags=["tokens"])


class TokenIn(Schema):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(max_length=100, description="What the token is for, e.g. the line's MES")
    scopes: list[str] = Field(min_length=1, description="Scopes, e.g. epcis:capture")
    days: int = Field(90, ge=1, le=MAX_TOKEN_DAYS_UI, description="Valid for this many days")


class TokenOut(Schema):
    id: int
    name: str
    prefix: str
    scopes: list[str]
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None
    status: str = Field(description="active, expired or revoked")


class TokenSecretOut(TokenOut):
    token: str = Field(description="The bearer token: shown this once, only its hash is kept")


def _user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)  # every route is authenticated
    return request.user


def _out(token: ApiToken) -> dict[str, object]:
    return {
        "id": token.pk,
        "name": token.name,
        "prefix": token.prefix,
        "scopes": list(token.scopes),
        "created_at": token.created_at,
        "expires_at": token.expires_at,
        "last_used_at": token.last_used_at,
        "revoked_at": token.revoked_at,
        "status": token_status(token),
    }


@router.get("/tokens", response=list[TokenOut])
def list_tokens(request: HttpRequest) -> list[dict[str, object]]:
    """The caller's own tokens, newest first (revoked and expired ones too)."""
    return [_out(t) for t in token_list(user=_user(request))[:500]]


@router.post("/tokens", response={201: TokenSecretOut})
def create_token(request: HttpRequest, payload: TokenIn) -> Status:
    """A new token for the caller. With a bearer token: at most that token's scopes."""
    user = _user(request)
    calling = getattr(request, "api_token", None)
    if calling is not None:
        wider = sorted(set(payload.scopes) - set(calling.scopes))
        if wider:
            raise PermissionDenied(
                f"scopes: this token cannot create a token with scopes it lacks "
                f"({', '.join(wider)}); create it signed in, or with `medtrace create_token`",
                field="scopes",
                details={"token_scopes": calling.scopes, "refused": wider},
            )
    token, raw = token_create(
        user=user, scopes=payload.scopes, days=payload.days, name=payload.name, actor=user
    )
    return Status(201, {**_out(token), "token": raw})


@router.post("/tokens/{token_id}/revoke", response=TokenOut)
def revoke_token(request: HttpRequest, token_id: int) -> dict[str, object]:
    """Revoke one of the caller's tokens (the calling token itself too); idempotent."""
    user = _user(request)
    token = ApiToken.objects.filter(pk=token_id, user=user).first()
    if token is None:
        raise NotFound(f"No token {token_id} of yours", details={"id": token_id})
    token_revoke(token=token, actor=user)
    return _out(token)
