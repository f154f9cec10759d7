"""The app that owns the Post model (here "blog"): ready() imports signals.py, which connects the
post_save / post_delete receivers. Listed in INSTALLED_APPS as "blog" or "blog.apps.BlogConfig"."""

from django.apps import AppConfig


class BlogConfig(AppConfig):
    name = "blog"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from . import signals  # noqa: F401  (importing connects the receivers)
