"""Fetching pages through the edge for edge_warm and edge_verify: no redirects followed (a
redirect is an answer the edge caches too), the cache verdict read from X-Cache and Cache-Status."""

import http.client
import time
import urllib.error
import urllib.request
from dataclasses import dataclass

from django.urls import URLPattern, URLResolver, get_resolver


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


_opener = urllib.request.build_opener(_NoRedirect)


@dataclass
class Probe:
    url: str
    status: int = 0
    cache: str = ""  # HIT, MISS, BYPASS, or "" when the answer did not come through the worker
    cache_status: str = ""
    ms: float = 0.0
    error: str = ""

    @property
    def stored(self):
        """A MISS that the edge stored (Cache-Status says `stored`)."""
        return "stored" in [p.strip() for p in self.cache_status.split(";")]

    @property
    def detail(self):
        for part in self.cache_status.split(";"):
            name, _, value = part.strip().partition("=")
            if name == "detail":
                return value.strip('"')
        return ""


def fetch(url, headers=None, timeout=30.0):
    probe = Probe(url)
    request = urllib.request.Request(url, headers=dict({"User-Agent": "edge-cache-django"}, **(headers or {})))
    start = time.monotonic()
    try:
        try:
            response = _opener.open(request, timeout=timeout)
        except urllib.error.HTTPError as error:  # 3xx/4xx/5xx still carry the cache verdict
            response = error
        with response:
            response.read()
            probe.status = response.status if hasattr(response, "status") else response.code
            probe.cache = (response.headers.get("X-Cache") or "").upper()
            probe.cache_status = response.headers.get("Cache-Status") or ""
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as error:
        probe.error = str(getattr(error, "reason", None) or error)
    probe.ms = (time.monotonic() - start) * 1000
    return probe


def sitemap_paths():
    """Every location in the sitemaps wired to django.contrib.sitemaps' views in ROOT_URLCONF."""
    paths = []
    for sitemaps in _sitemap_dicts(get_resolver().url_patterns):
        for sitemap in sitemaps.values():
            sitemap = sitemap() if isinstance(sitemap, type) else sitemap
            paths.extend(sitemap.location(item) for item in sitemap.items())
    return list(dict.fromkeys(paths))


def _sitemap_dicts(patterns):
    from django.contrib.sitemaps import views

    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _sitemap_dicts(pattern.url_patterns)
        elif isinstance(pattern, URLPattern) and pattern.callback in (views.sitemap, views.index):
            sitemaps = pattern.default_args.get("sitemaps")
            if sitemaps:
                yield sitemaps
