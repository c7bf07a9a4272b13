from __future__ import annotations

from datetime import datetime
from typing import Any

from ninja import Schema
from pydantic import ConfigDict, Field


class AuditEntryOut(Schema):
    seq: int
    at: datetime
    actor: str = Field(validation_alias="actor_name")
    source: str
    action: str
    object_type: str
    object_id: str
    object_repr: str
    changes: dict[str, Any]
    reason: str
    request_id: str
    prev_hash: str
    hash: str


class SignatureOut(Schema):
    id: int
    meaning: str
    printed_name: str
    username: str
    signed_at: datetime
    content_sha256: str
    reason: str
    valid: bool
    status: str


class SignIn(Schema):
    model_config = ConfigDict(extra="forbid")

    meaning: str = Field(description="authored, reviewed, approved, released or closed")
    password: str = Field(description="the signer's password, re-entered for this signature")
    reason: str = Field("", description="an optional comment recorded with the signature")


class VerifyOut(Schema):
    ok: bool
    entries: int
    head_seq: int
    head_hash: str
    sealed_jobs: int
    sealed_events: int
    signatures: int
    checkpoints: int
    problems: list[dict[str, Any]]
