"""The webhook worker's round: fan new events out, post the due deliveries signed the Standard
Webhooks way (HMAC-SHA256 over "id.timestamp.body"), and record each outcome."""

import base64
import hashlib
import hmac
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import timedelta

from eprescription.services import events, webhook_targets
from eprescription.services.uow import UnitOfWork

TIMEOUT_SECONDS = 5.0
BATCH = 20  # deliveries claimed per round
USER_AGENT = "eprescription-webhooks/1"


def signature(secret: str, event_id: str, timestamp: int, body: bytes) -> str:
    """The Webhook-Signature value: "v1," + base64 of HMAC-SHA256, keyed with the secret's
    bytes (the base64 after "whsec_"), over "<id>.<timestamp>.<body>"."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{event_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer other than 2xx: a failure, never followed."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


# No proxy from the environment, no redirects: the POST goes to the registered URL only.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirects())


def post(attempt: events.Attempt, timestamp: int, timeout: float = TIMEOUT_SECONDS) -> str | None:
    """POST one delivery; None when the subscriber answered 2xx, else what went wrong."""
    if attempt.public_only:
        reason = webhook_targets.private_reason(attempt.url)
        if reason is not None:
            return f"refused: {reason}"
    signed = signature(attempt.secret, attempt.event_id, timestamp, attempt.body)
    request = urllib.request.Request(
        attempt.url,
        data=attempt.body,
        method="POST",
        headers={
            "Content-Type": attempt.content_type,
            "User-Agent": USER_AGENT,
            "Webhook-Id": attempt.event_id,
            "Webhook-Timestamp": str(timestamp),
            "Webhook-Signature": signed,
        },
    )
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            status = response.status
    except urllib.error.HTTPError as error:
        return f"HTTP {error.code}"
    except (OSError, ValueError) as error:  # refused, unreachable, timed out, bad URL
        return f"{type(error).__name__}: {error}"
    return None if 200 <= status < 300 else f"HTTP {status}"


@dataclass(frozen=True)
class Round:
    """What one round did."""

    fanned_out: int
    delivered: int
    failed: int


def deliver_once(
    open_work: Callable[[], AbstractContextManager[UnitOfWork]], timeout: float = TIMEOUT_SECONDS
) -> Round:
    """One round: fan out and claim in one transaction, post outside any transaction, then
    record each outcome in its own (a crash in between leaves the claim to lapse: the event
    is sent again, at least once)."""
    with open_work() as uow:
        fanned_out = events.fan_out(uow)
        attempts = events.claim(uow, BATCH, timedelta(seconds=BATCH * timeout + 30))
    delivered = failed = 0
    for attempt in attempts:
        error = post(attempt, int(time.time()), timeout)
        with open_work() as uow:
            events.record(uow, attempt.delivery_id, error)
        if error is None:
            delivered += 1
        else:
            failed += 1
    return Round(fanned_out, delivered, failed)
