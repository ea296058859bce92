"""JSON POSTs to a model server, retried the way rate-limited APIs ask to be (stdlib only).

A server with many slots is used best with many requests in flight (RemoteLM bounds them with
`concurrency`); a busy one answers 429 or 503, often with `Retry-After`. So one call here is:

    try ── 2xx ──────────────────────────────► the JSON body
     │
     ├─ 408 / 429 / 5xx / connection error ──► wait, try again (at most `retries` times)
     │        wait = Retry-After (seconds or an HTTP date; capped at MAX_RETRY_AFTER) when the
     │               server sends it, else base * 2**attempt (capped at `cap`) with 0-10% jitter
     └─ another 4xx ─────────────────────────► CallFailed at once (retrying cannot help)

and after the last retry, CallFailed with the status and the first line of the server's message.
The caller (RemoteLM) turns it into a one-line ModelCallError naming the model and server.
"""
from __future__ import annotations

import email.utils
import http.client
import json
import random
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

MAX_RETRY_AFTER = 120.0  # seconds; a longer Retry-After is waited for this long, then retried


@dataclass(frozen=True)
class RetryPolicy:
    retries: int = 5  # tries after the first
    base: float = 0.5  # seconds before the first retry when the server names no delay
    cap: float = 30.0  # longest exponential wait


class CallFailed(Exception):
    """A request that did not succeed: HTTP status (None for a connection error), a short reason,
    and how many times it was sent."""

    def __init__(self, status: int | None, reason: str, attempts: int):
        super().__init__(reason)
        self.status, self.reason, self.attempts = status, reason, attempts


def retryable(status: int | None) -> bool:
    """Connection errors, timeouts, rate limits and server errors are worth another try."""
    return status is None or status in (408, 429) or status >= 500


def retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: a number of seconds or an HTTP date."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value).timestamp()
        except (TypeError, ValueError, IndexError):
            return None
        seconds = when - (time.time() if now is None else now)
    return min(max(0.0, seconds), MAX_RETRY_AFTER)


def post_json(url: str, body: dict[str, Any], *, headers: dict[str, str], timeout: float | None,
              policy: RetryPolicy, sleep: Callable[[float], None] = time.sleep) -> dict[str, Any]:
    """POST `body` as JSON; the decoded JSON answer. Retries as the module docstring says."""
    data = json.dumps(body).encode("utf-8")
    for attempt in range(policy.retries + 1):
        try:
            return _post_once(url, data, headers, timeout)
        except _Failure as f:
            if not retryable(f.status) or attempt == policy.retries:
                raise CallFailed(f.status, f.reason, attempt + 1) from None
            wait = f.wait
        if wait is None:
            wait = min(policy.cap, policy.base * 2 ** attempt) * (1 + 0.1 * random.random())
        sleep(wait)
    raise AssertionError("unreachable")


class _Failure(Exception):
    def __init__(self, status: int | None, reason: str, wait: float | None = None):
        self.status, self.reason, self.wait = status, reason, wait


def _post_once(url: str, data: bytes, headers: dict[str, str], timeout: float | None) -> dict[str, Any]:
    request = urllib.request.Request(url, data=data, method="POST",
                                     headers={"Content-Type": "application/json", **headers})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw = response.read()
    except urllib.error.HTTPError as e:
        reason = _server_message(e.read() if e.fp is not None else b"") or e.reason or ""
        raise _Failure(e.code, f"HTTP {e.code}: {reason}", retry_after(e.headers.get("Retry-After"))) from None
    except (TimeoutError, urllib.error.URLError, http.client.HTTPException, ConnectionError, OSError) as e:
        why = getattr(e, "reason", None) or e
        raise _Failure(None, f"{type(e).__name__}: {why}") from None
    try:
        answer = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise _Failure(200, f"the answer is not JSON ({raw[:80]!r})") from None
    if not isinstance(answer, dict):
        raise _Failure(200, f"the answer is not a JSON object ({type(answer).__name__})")
    return answer


def _server_message(raw: bytes) -> str:
    """The first line of an OpenAI-style error's message, or of the body itself."""
    text = raw.decode("utf-8", "replace")
    try:
        payload = json.loads(text)
        error = payload.get("error", payload) if isinstance(payload, dict) else payload
        text = error.get("message", text) if isinstance(error, dict) else str(error)
    except (json.JSONDecodeError, AttributeError):
        pass
    return (str(text).strip().splitlines() or [""])[0][:300]
