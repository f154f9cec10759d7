"""System checks (manage.py check, runserver, migrate): the mistakes that otherwise show up as
stale pages in production, or as a page that is never cached."""

from urllib.parse import urlsplit

from django.conf import settings as django_settings
from django.core import checks

from . import conf

MIDDLEWARE = "edge_cache.middleware.EdgeCacheMiddleware"
# Middleware that add cookies, Vary or Cache-Control on the way out: ours must be above them.
BELOW = (
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.locale.LocaleMiddleware",
)
SITE_CACHE = ("django.middleware.cache.UpdateCacheMiddleware", "django.middleware.cache.FetchFromCacheMiddleware",
              "django.middleware.cache.CacheMiddleware")
LOCAL_HOSTS = ("localhost", "127.0.0.1", "[::1]")


@checks.register()
def check_settings(app_configs=None, **kwargs):
    settings = conf.get()
    found = [checks.Error("EDGE_CACHE has unknown keys: %s" % ", ".join(conf.unknown_keys()),
                          hint="Known keys: %s" % ", ".join(sorted(conf.DEFAULTS)), id="edge_cache.E001")
             ] if conf.unknown_keys() else []
    for url in settings.site_urls:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.query:
            found.append(checks.Error("EDGE_CACHE SITE_URL %r is not a base URL like https://www.example.com" % url,
                                      id="edge_cache.E002"))
        elif parts.scheme == "http" and parts.hostname not in LOCAL_HOSTS and settings.TOKEN:
            found.append(checks.Warning("EDGE_CACHE SITE_URL %r is http://: the purge token travels in clear" % url,
                                        hint="Use https:// for anything but a local worker.", id="edge_cache.W001"))
    if settings.TOKEN and len(settings.TOKEN) < 16:
        found.append(checks.Error("EDGE_CACHE TOKEN is shorter than 16 characters: the worker accepts none such",
                                  id="edge_cache.E003"))
    if settings.ENABLED and not (settings.site_urls and settings.TOKEN):
        found.append(checks.Error("EDGE_CACHE ENABLED is True but SITE_URL or TOKEN is empty",
                                  hint='Set both, e.g. "TOKEN": os.environ.get("EDGE_CACHE_TOKEN", "").',
                                  id="edge_cache.E004"))
    elif settings.site_urls and not settings.TOKEN and settings.ENABLED is None:
        found.append(checks.Warning("EDGE_CACHE has a SITE_URL but no TOKEN: purging is off, pages stay stale until their TTL",
                                    hint="Set EDGE_CACHE_TOKEN in this environment (the worker's PURGE_TOKEN).",
                                    id="edge_cache.W002"))
    if settings.BACKEND not in ("auto", "thread", "celery", "inline"):
        found.append(checks.Error("EDGE_CACHE BACKEND %r: use auto, thread, celery or inline" % settings.BACKEND,
                                  id="edge_cache.E005"))
    return found


@checks.register()
def check_middleware(app_configs=None, **kwargs):
    middleware = list(getattr(django_settings, "MIDDLEWARE", None) or ())
    found = []
    if MIDDLEWARE not in middleware:
        found.append(checks.Warning("%s is not in MIDDLEWARE: pages get no Cache-Tag, and tag purges find nothing" % MIDDLEWARE,
                                    id="edge_cache.W003"))
    else:
        position = middleware.index(MIDDLEWARE)
        above = [m for m in BELOW if m in middleware[:position]]
        if above:
            found.append(checks.Warning("%s must come before %s" % (MIDDLEWARE, ", ".join(above)),
                                        hint="From there it sees the cookies and Cache-Control they add.",
                                        id="edge_cache.W004"))
    cached = [m for m in SITE_CACHE if m in middleware]
    if cached:
        found.append(checks.Warning("Django's site-wide cache (%s) serves old pages after an edge purge" % ", ".join(cached),
                                    hint="The edge refills from it. Remove it on pages the edge caches (docs/django.md in edge-cache).", id="edge_cache.W005"))
    return found


@checks.register()
def check_risky_settings(app_configs=None, **kwargs):
    found = []
    storage = getattr(django_settings, "MESSAGE_STORAGE", "django.contrib.messages.storage.fallback.FallbackStorage")
    if "django.contrib.messages" in django_settings.INSTALLED_APPS and "session" not in storage.lower():
        found.append(checks.Warning(
            "MESSAGE_STORAGE keeps messages in a cookie: a cached page never shows nor clears them",
            hint='MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage" (a session bypasses the edge).',
            id="edge_cache.W006"))
    if conf.get().site_urls and not getattr(django_settings, "USE_X_FORWARDED_HOST", False):
        found.append(checks.Info(
            "USE_X_FORWARDED_HOST is off: behind the worker, request.get_host() is the origin's host",
            hint="Set it (the worker sets X-Forwarded-Host itself) and list the public host in ALLOWED_HOSTS.",
            id="edge_cache.I001"))
    return found
