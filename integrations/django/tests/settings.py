import os
import tempfile

SECRET_KEY = "edge-cache-tests"
DEBUG = False
ALLOWED_HOSTS = ["*"]
USE_TZ = True
ROOT_URLCONF = "tests.urls"
STATIC_URL = "/static/"
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.sitemaps",
    "edge_cache",
    "tests.blog",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "edge_cache.middleware.EdgeCacheMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"
USE_X_FORWARDED_HOST = True
TEMPLATES = [{
    "BACKEND": "django.template.backends.django.DjangoTemplates",
    "APP_DIRS": True,
    "OPTIONS": {"context_processors": [
        "django.template.context_processors.request",
        "django.contrib.auth.context_processors.auth",
        "django.contrib.messages.context_processors.messages",
    ]},
}]
# A file, not :memory:: the purge thread and the live server use their own connections.
_DB = os.path.join(tempfile.gettempdir(), "edge-cache-django-tests-%d.sqlite3" % os.getpid())
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": _DB, "TEST": {"NAME": _DB}}}
# Configured, but off: Django's test runner is on. Tests that send turn ENABLED on.
EDGE_CACHE = {"SITE_URL": "https://www.example.com", "TOKEN": "test-token-0123456789"}
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"null": {"class": "logging.NullHandler"}},
    "loggers": {"edge_cache": {"handlers": ["null"], "propagate": False}},
}
