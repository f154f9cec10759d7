"""Purge client for edge-cache's purge API, standard library only.

    from .edge_cache import purge_cache
    purge_cache(tags=["post_42", "category_news"])

Settings (django.conf.settings):
    EDGE_CACHE_PURGE_URL    full URL of the purge endpoint, e.g. "https://www.example.com/__edge/purge".
                            Empty or missing: purging is disabled (a debug message is logged).
    EDGE_CACHE_PURGE_TOKEN  the worker's PURGE_TOKEN.
    EDGE_CACHE_PURGE_TIMEOUT  seconds per request (optional, default 5).

The API takes at most 100 items (urls + tags + prefixes + hosts) per request, so longer lists are
sent as several requests. 429 and 503 answers and network errors are retried a few times with
backoff (honouring Retry-After); purges are idempotent, so repeating one is always safe.
"""

import json
import logging
import random
import time
import urllib.error
import urllib.parse
import urllib.request

from django.conf import settings

logger = logging.getLogger(__name__)

MAX_ITEMS_PER_REQUEST = 100
DEFAULT_TIMEOUT = 5.0
ATTEMPTS = 3
BACKOFF_SECONDS = 0.5
MAX_RETRY_AFTER_SECONDS = 10.0


class EdgeCachePurgeError(Exception):
    """A purge failed. `status` is the HTTP status (0: no answer); `errors` the API's error list."""

    def __init__(self, message, status=0, errors=None):
        super().__init__(message)
        self.status = status
        self.errors = errors or []


def cache_tag(kind, value):
    """A valid, canonical tag such as "post_42" or "category_news".

    Tags are printable ASCII without spaces or commas (the Cache-Tag header is comma-separated),
    compared case-insensitively; a tag the API rejects fails its whole purge request with a 400.
    So build every tag with this function, in views and in signal handlers alike: anything outside
    [A-Za-z0-9-._~] (e.g. a unicode slug) is percent-encoded, and the result is lower-cased.
    """
    return ("%s_%s" % (kind, urllib.parse.quote(str(value), safe="-._~"))).lower()


def _batches(urls, tags, prefixes, hosts):
    """Split the items into request bodies of at most 100 items in all."""
    items = []
    for kind, values in (("files", urls), ("tags", tags), ("prefixes", prefixes), ("hosts", hosts)):
        items.extend((kind, value) for value in values or ())
    for start in range(0, len(items), MAX_ITEMS_PER_REQUEST):
        body = {}
        for kind, value in items[start:start + MAX_ITEMS_PER_REQUEST]:
            body.setdefault(kind, []).append(value)
        yield body


def _retry_after(headers):
    value = (headers.get("Retry-After") or "").strip() if headers is not None else ""
    return float(value) if value.isdigit() else None


def _post(url, token, body, timeout):
    """POST one body; return the API's `result`, or raise EdgeCachePurgeError."""
    data = json.dumps(body).encode("utf-8")
    for attempt in range(1, ATTEMPTS + 1):
        request = urllib.request.Request(
            url,
            data=data,
            method="POST",
            headers={
                "Authorization": "Bearer " + token,
                "Content-Type": "application/json",
                "Accept": "application/json",
            },
        )
        status, payload, wait = 0, None, None
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                status = response.status
                payload = response.read()
        except urllib.error.HTTPError as e:  # 4xx / 5xx: the API's envelope is in the body
            status = e.code
            payload = e.read()
            wait = _retry_after(e.headers)
        except (urllib.error.URLError, OSError) as e:  # connection refused, DNS, timeout
            if attempt == ATTEMPTS:
                raise EdgeCachePurgeError("edge-cache purge failed: %s" % (getattr(e, "reason", None) or e,)) from e
            time.sleep(BACKOFF_SECONDS * 2 ** (attempt - 1) * (0.5 + random.random() / 2))
            continue

        try:
            envelope = json.loads(payload.decode("utf-8"))
        except ValueError:
            envelope = None
        if not isinstance(envelope, dict):
            envelope = {}
        if 200 <= status < 300 and envelope.get("success") is True:
            return envelope.get("result") or {}

        errors = envelope.get("errors") or []
        retryable = status in (429, 503) and (wait is None or wait <= MAX_RETRY_AFTER_SECONDS)
        if retryable and attempt < ATTEMPTS:
            time.sleep(wait if wait is not None else BACKOFF_SECONDS * 2 ** (attempt - 1) * (0.5 + random.random() / 2))
            continue
        messages = "; ".join(str(err.get("message")) for err in errors if isinstance(err, dict)) or (payload or b"")[:200].decode("utf-8", "replace").strip()
        raise EdgeCachePurgeError("edge-cache purge failed (HTTP %d): %s" % (status, messages), status, errors)
    raise AssertionError("unreachable")


def purge_cache(urls=None, tags=None, prefixes=None, hosts=None, purge_everything=False):
    """Purge the edge cache. Returns the API's results (one dict per request sent).

    urls:      absolute URLs ("https://www.example.com/blog/answer/"), or {"url": ..., "headers": {...}}
    tags:      cache tags ("post_42")
    prefixes:  host + path prefixes without a scheme ("www.example.com/blog/")
    hosts:     host names ("www.example.com")
    purge_everything: True to purge the whole cache (alone: not with the lists above)

    Raises EdgeCachePurgeError when a request fails (after retries on 429 / 503 / network errors),
    and ValueError on bad arguments. Nothing to purge: returns [] without a request.
    """
    url = getattr(settings, "EDGE_CACHE_PURGE_URL", "") or ""
    token = getattr(settings, "EDGE_CACHE_PURGE_TOKEN", "") or ""
    timeout = float(getattr(settings, "EDGE_CACHE_PURGE_TIMEOUT", DEFAULT_TIMEOUT))
    for name, value in (("urls", urls), ("tags", tags), ("prefixes", prefixes), ("hosts", hosts)):
        if isinstance(value, (str, bytes)):
            raise ValueError("%s must be a list, not a string" % name)
    urls, tags, prefixes, hosts = list(urls or ()), list(tags or ()), list(prefixes or ()), list(hosts or ())

    if purge_everything:
        if urls or tags or prefixes or hosts:
            raise ValueError("purge_everything cannot be combined with urls, tags, prefixes or hosts")
        bodies = [{"purge_everything": True}]
    else:
        bodies = list(_batches(urls, tags, prefixes, hosts))
    if not bodies:
        return []
    if not url:
        logger.debug("edge-cache purge skipped (EDGE_CACHE_PURGE_URL is not set): %r", bodies)
        return []
    if not token:
        raise EdgeCachePurgeError("EDGE_CACHE_PURGE_TOKEN is not set")

    results = []
    for body in bodies:
        result = _post(url, token, body, timeout)
        results.append(result)
        logger.info(
            "edge-cache purged %s (id %s, invalidated_tags=%s)",
            ", ".join("%d %s" % (len(v), k) if isinstance(v, list) else k for k, v in body.items()),
            result.get("id"),
            result.get("invalidated_tags"),
        )
    return results
