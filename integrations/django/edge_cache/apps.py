from django.apps import AppConfig


class EdgeCacheConfig(AppConfig):
    name = "edge_cache"
    label = "edge_cache"
    verbose_name = "Edge cache"
    default_auto_field = "django.db.models.AutoField"

    def ready(self):
        from . import checks  # noqa: F401  (registers the system checks)

        if self.apps.is_installed("django.contrib.admin"):
            from . import admin

            admin.connect()
