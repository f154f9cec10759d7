"""HTTP client for the worker's purge and explain endpoints (urllib: no dependency).

A purge is idempotent, so a failed attempt is always safe to repeat: 429, 5xx, timeouts and
network errors are retried with backoff (Retry-After honoured up to MAX_RETRY_AFTER). Other
answers (400 bad body, 401 token, 403 address, 404 purge disabled) are not retried: repeating
them cannot succeed until someone changes the configuration.
"""

import http.client
import json
import logging
import random
import time
import urllib.error
import urllib.parse
import urllib.request

from . import conf

logger = logging.getLogger("edge_cache")
RETRYABLE = {429, 500, 502, 503, 504}


class PurgeError(Exception):
    """A purge request failed. `status` is 0 when no answer came; `retryable` says whether a later
    attempt may succeed (the outbox keeps such batches pending)."""

    def __init__(self, message, status=0, errors=None, retry_after=None):
        super().__init__(message)
        self.status = status
        self.errors = errors or []
        self.retry_after = retry_after

    @property
    def retryable(self):
        return self.status == 0 or self.status in RETRYABLE


def call(method, url, token, body=None, timeout=5.0, headers=None):
    """One request; returns (status, parsed JSON or None). Raises PurgeError(status=0) when no
    answer came (refused, DNS, timeout)."""
    data = None if body is None else json.dumps(body).encode("utf-8")
    all_headers = {"Authorization": "Bearer " + token, "Accept": "application/json"}
    if data is not None:
        all_headers["Content-Type"] = "application/json"
    all_headers.update(headers or {})
    request = urllib.request.Request(url, data=data, method=method, headers=all_headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, _json(response.read()), None
    except urllib.error.HTTPError as error:
        return error.code, _json(error.read()), _retry_after(error.headers)
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as error:
        raise PurgeError("no answer from %s: %s" % (url, getattr(error, "reason", None) or error)) from error


def _json(payload):
    try:
        return json.loads(payload.decode("utf-8"))
    except ValueError:
        return None


def _retry_after(headers):
    value = (headers.get("Retry-After") or "").strip() if headers is not None else ""
    return float(value) if value.isdigit() else None


def send(body, settings=None):
    """POST one body (<= 100 items) with retries; returns the API's `result` or raises PurgeError."""
    settings = settings or conf.get()
    attempts = max(1, int(settings.RETRIES))
    for attempt in range(1, attempts + 1):
        try:
            return _send_once(body, settings)
        except PurgeError as error:
            wait = _backoff(error, attempt, settings)
            if not error.retryable or attempt == attempts or wait is None:
                raise
            logger.info("edge-cache purge attempt %d failed (%s); retrying in %.1f s", attempt, error, wait)
            time.sleep(wait)
    raise AssertionError("unreachable")


def _send_once(body, settings):
    status, envelope, retry_after = call("POST", settings.purge_url, settings.TOKEN, body, settings.TIMEOUT)
    envelope = envelope if isinstance(envelope, dict) else {}
    if 200 <= status < 300 and envelope.get("success") is True:
        return envelope.get("result") or {}
    errors = [e for e in envelope.get("errors") or [] if isinstance(e, dict)]
    reason = "; ".join(str(e.get("message")) for e in errors) or "no envelope in the answer"
    raise PurgeError("purge refused (HTTP %d): %s" % (status, reason), status, errors, retry_after)


def _backoff(error, attempt, settings):
    """Seconds before the next attempt, or None when Retry-After asks for longer than we wait."""
    if error.retry_after is not None:
        return error.retry_after if error.retry_after <= settings.MAX_RETRY_AFTER else None
    return settings.BACKOFF * 2 ** (attempt - 1) * (0.5 + random.random() / 2)


def explain(url, headers=None, settings=None):
    """What the edge would do with `url` (an absolute URL, or a path under SITE_URL)."""
    settings = settings or conf.get()
    target = settings.absolute_urls(url)[0]
    query = urllib.parse.urlencode({"url": target})
    status, payload, _ = call("GET", settings.explain_url + "?" + query, settings.explain_token,
                              timeout=settings.TIMEOUT, headers=headers)
    if status != 200 or not isinstance(payload, dict):
        raise PurgeError("explain failed (HTTP %d): %s" % (status, payload), status)
    return payload
