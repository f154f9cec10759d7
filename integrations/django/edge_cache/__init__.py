"""edge-cache for Django: tag pages with what they show, purge exactly those pages when it
changes, once per transaction, off the request path. Guide: docs/django.md in edge-cache.

    import edge_cache
    edge_cache.register(Post, depends_on={Category: "category"})   # purges on save/delete/m2m
    edge_cache.add_tags(request, post)                              # or the decorator / mixin
    edge_cache.purge(tags=[edge_cache.tag(Post)])                   # by hand
"""

from .batch import purge_items as purge
from .bulk import bulk_create, bulk_update, purge_objects, update
from .client import PurgeError, explain
from .registry import register, unregister
from .sender import flush
from .tags import add_tags, tag, tags_for
from .views import EdgeCacheTagsMixin, cache_tags

__version__ = "0.1.0"
__all__ = [
    "EdgeCacheTagsMixin", "PurgeError", "add_tags", "bulk_create", "bulk_update", "cache_tags", "explain",
    "flush", "purge", "purge_objects", "register", "tag", "tags_for", "unregister", "update",
]
