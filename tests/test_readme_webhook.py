"""The README's webhook receiver works against what medtrace really sends.

The Python block of "Receive recall webhooks" in README.md is run as it stands: its receiver
serves on a local port, and ``medtrace.alerts.webhooks.post`` delivers to it for a real
subscription, signed with the subscription's secret. It must accept that delivery (once per
Idempotency-Key), accept one signed with two secrets during a rotation, and refuse a tampered
body, a wrong secret and a replay of an old delivery.
"""

from __future__ import annotations

import re
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from http.server import HTTPServer
from pathlib import Path
from typing import Any

import pytest

from medtrace.alerts import webhooks

README = Path(__file__).resolve().parent.parent / "README.md"


def readme_receiver() -> str:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("### Receive recall webhooks") :]
    section = section[: section.index("\n### ")]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)
    assert len(blocks) == 1, "the section should have exactly one Python block"
    return blocks[0]


@pytest.fixture
def receiver() -> Iterator[tuple[dict[str, Any], str]]:
    """The README's code, run as a module (not as __main__), serving on a free local port."""
    namespace: dict[str, Any] = {"__name__": "readme_receiver"}
    exec(compile(readme_receiver(), "README.md", "exec"), namespace)
    server = HTTPServer(("127.0.0.1", 0), namespace["Receiver"])
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield namespace, f"http://127.0.0.1:{server.server_address[1]}/medtrace"
    finally:
        server.shutdown()
        server.server_close()


def _raw_post(url: str, body: bytes, headers: dict[str, str]) -> int:
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


@pytest.mark.django_db
def test_the_readme_receiver_verifies_a_real_delivery_and_refuses_forgeries(
    receiver: tuple[dict[str, Any], str], admin_user: Any
) -> None:
    namespace, url = receiver
    subscription, secret = webhooks.webhook_subscription_create(
        url=url, event_types=["recall.notice"], user=admin_user, system_name="README receiver"
    )
    namespace["SECRET"] = secret
    payload = {"event": "recall.notice", "id": "RN-1:webhook:1", "notice": "RN-1", "units": []}

    # A real delivery is accepted, and processed once per Idempotency-Key.
    result = webhooks.post(
        subscription=subscription,
        event="recall.notice",
        payload=payload,
        idempotency_key="RN-1:webhook:1",
    )
    assert result.ok, result.detail
    assert result.status_code == 204
    again = webhooks.post(
        subscription=subscription,
        event="recall.notice",
        payload=payload,
        idempotency_key="RN-1:webhook:1",
    )
    assert again.ok
    assert namespace["processed"] == {"RN-1:webhook:1"}

    body = webhooks.encode(payload)
    now = int(time.time())

    def headers(signature: str, stamp: int = now, key: str = "k") -> dict[str, str]:
        return {
            "Content-Type": "application/json",
            webhooks.EVENT_HEADER: "recall.notice",
            webhooks.TIMESTAMP_HEADER: str(stamp),
            webhooks.SIGNATURE_HEADER: signature,
            webhooks.IDEMPOTENCY_HEADER: key,
        }

    # What medtrace signs, the receiver accepts; one changed byte, or another secret, it refuses.
    assert _raw_post(url, body, headers(webhooks.sign(secret, now, body), key="a")) == 204
    tampered = body.replace(b"RN-1", b"RN-2")
    assert _raw_post(url, tampered, headers(webhooks.sign(secret, now, body))) == 401
    assert _raw_post(url, body, headers(webhooks.sign("whsec_other", now, body))) == 401
    assert _raw_post(url, body, headers("garbage")) == 401

    # A delivery captured ten minutes ago and sent again is a replay: refused although signed.
    old = now - 600
    assert _raw_post(url, body, headers(webhooks.sign(secret, old, body), stamp=old)) == 401

    # During a rotation the header carries both signatures; the old secret still verifies.
    subscription, new_secret = webhooks.webhook_subscription_rotate(
        subscription=subscription, user=admin_user, grace=timedelta(hours=1)
    )
    assert new_secret != secret
    both = webhooks.signature_header(subscription, now, body)
    assert "," in both
    assert _raw_post(url, body, headers(both, key="b")) == 204
    namespace["SECRET"] = new_secret
    assert _raw_post(url, body, headers(both, key="c")) == 204
    assert namespace["processed"] == {"RN-1:webhook:1", "a", "b", "c"}
