"""Slack's request signing (v0), checked strictly before Bolt sees a request.

Bolt's own check answers some malformed headers (a non-numeric timestamp, for one) with 500; here
every forged, stale, future or malformed request is a plain 401, decided before any other work.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping

MAX_SKEW = 300  # seconds, either way: Slack's own limit for replayed requests
SIGNATURE = re.compile(r"v0=[0-9a-f]{64}")
TIMESTAMP = re.compile(r"[0-9]{1,12}")


def refusal(headers: Mapping[str, str], body: bytes, secret: str, now: float) -> str | None:
    """Why the request must be refused, or None when Slack signed it within the last 5 minutes."""
    timestamp = headers.get("X-Slack-Request-Timestamp")
    signature = headers.get("X-Slack-Signature")
    if timestamp is None or signature is None:
        return "missing signature headers"
    if not (timestamp.isascii() and TIMESTAMP.fullmatch(timestamp)):
        return "malformed timestamp"
    if abs(now - int(timestamp)) > MAX_SKEW:
        return "timestamp too old or in the future"
    if not (signature.isascii() and SIGNATURE.fullmatch(signature)):
        return "malformed signature"
    base = b"v0:" + timestamp.encode() + b":" + body
    expected = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature):
        return "signature does not match"
    return None
