"""Settings: one EDGE_CACHE dict in settings.py, merged over DEFAULTS on every read.

Read on every use (a dict merge is cheap) so that override_settings() in tests and settings
changed at run time take effect without a cache to invalidate.
"""

import functools
from urllib.parse import urlsplit

from django.conf import settings

DEFAULTS = {
    # Public base URL(s) of the site behind the worker: "https://www.example.com" or a list.
    # Paths from register(urls=...) are purged under each; the purge API lives under the first.
    "SITE_URL": "",
    # The worker's PURGE_TOKEN (>= 16 characters). Read it from the environment, never commit it.
    "TOKEN": "",
    # The worker's EXPLAIN_TOKEN; empty: TOKEN.
    "EXPLAIN_TOKEN": "",
    "PURGE_PATH": "/__edge/purge",
    "EXPLAIN_PATH": "/__edge/explain",
    # None: on when SITE_URL and TOKEN are set, except under Django's test runner.
    "ENABLED": None,
    # "thread" (a background thread), "celery" (a task), "inline" (blocking: scripts, tests), or
    # "auto": celery when it is installed, else thread.
    "BACKEND": "auto",
    # Seconds per purge request attempt, attempts per batch, first backoff (doubled each retry).
    "TIMEOUT": 5.0,
    "RETRIES": 3,
    "BACKOFF": 1.0,
    # Longest Retry-After honoured before giving the batch up to the outbox.
    "MAX_RETRY_AFTER": 30.0,
    # Record every batch in the edge_cache_purgeoutbox table until it is sent (manage.py edge_outbox).
    "OUTBOX": False,
    # Send "soft": true: purged entries become stale and are revalidated instead of dropped.
    "SOFT": False,
    "TAG_HEADER": "Cache-Tag",
    "TAG_PREFIX": "",
    # The edge takes 16 KB of tags per response and keeps part of it for tags of its own.
    "MAX_TAG_BYTES": 15 * 1024,
    # Batches waiting for the background thread; past this, new batches go only to the outbox.
    "QUEUE_SIZE": 10000,
    # At interpreter exit, how long to keep sending what is queued.
    "EXIT_TIMEOUT": 5.0,
    # A dependency with more dependents than this is logged (its purge is still sent, in batches).
    "MAX_DEPENDENTS": 1000,
}


class Conf:
    """EDGE_CACHE merged over DEFAULTS, with the derived values the package needs."""

    def __init__(self, values):
        self.__dict__.update(values)

    @property
    def site_urls(self):
        urls = self.SITE_URL
        urls = [urls] if isinstance(urls, str) else list(urls or ())
        return [u.rstrip("/") for u in urls if u]

    @property
    def purge_url(self):
        return self.site_urls[0] + self.PURGE_PATH if self.site_urls else ""

    @property
    def explain_url(self):
        return self.site_urls[0] + self.EXPLAIN_PATH if self.site_urls else ""

    @property
    def explain_token(self):
        return self.EXPLAIN_TOKEN or self.TOKEN

    @property
    def enabled(self):
        """Whether purges are sent. Unset means: configured, and not inside a test run."""
        if self.ENABLED is not None:
            return bool(self.ENABLED)
        return bool(self.site_urls and self.TOKEN) and not running_tests()

    @property
    def backend(self):
        if self.BACKEND != "auto":
            return self.BACKEND
        return "celery" if celery_installed() else "thread"

    def absolute_urls(self, url):
        """A path becomes one URL per SITE_URL; an absolute http(s) URL stays as it is."""
        if urlsplit(url).scheme in ("http", "https"):
            return [url]
        if not url.startswith("/"):
            url = "/" + url
        return [base + url for base in self.site_urls]


def get():
    """The current settings (EDGE_CACHE over DEFAULTS)."""
    values = dict(DEFAULTS)
    values.update(getattr(settings, "EDGE_CACHE", None) or {})
    return Conf(values)


def unknown_keys():
    return sorted(set(getattr(settings, "EDGE_CACHE", None) or {}) - set(DEFAULTS))


@functools.lru_cache(maxsize=None)
def celery_installed():
    """Imported, not looked up: Celery replaces its module object (find_spec fails on it)."""
    try:
        import celery  # noqa: F401
    except ImportError:
        return False
    return True


def running_tests():
    """Django's test runner (and pytest-django) set up mail.outbox; nothing else does."""
    from django.core import mail

    return getattr(mail, "outbox", None) is not None
