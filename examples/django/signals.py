"""Purge the edge cache when a Post is saved or deleted.

Every page showing a post carries its tags (see middleware.py): post_<id>, category_<slug>,
author_<author id>. A list page tags every post it lists, so purging post_<id> also refreshes the
lists that showed it (including the old category's list after a post changes category); lists of
all posts also carry the tag "posts", purged when a post is created or deleted (a new post is on
no page yet, so no post_<id> page would show it).

The purge runs after the transaction commits (transaction.on_commit): purging earlier would let a
request refill the edge cache with the old row before the commit, and a rolled-back save purges
nothing. Imported from AppConfig.ready() (see apps.py), which connects the receivers.
"""

import logging

from django.core.exceptions import ObjectDoesNotExist
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from .edge_cache import EdgeCachePurgeError, cache_tag, purge_cache

logger = logging.getLogger(__name__)

# Lazy "app_label.ModelName" reference: no models import at module load.
POST_MODEL = "blog.Post"
# Tag of the pages listing all posts (home page, feeds, sitemap).
ALL_POSTS_TAG = "posts"


def post_tags(post):
    """The tags of every page that shows `post` (the same ones the views add)."""
    tags = [cache_tag("post", post.pk)]
    if post.category_id is not None:
        try:
            category = post.category
        except ObjectDoesNotExist:  # deleted in the same cascade
            category = None
        if category is not None and category.slug:
            tags.append(cache_tag("category", category.slug))
    if post.author_id is not None:
        tags.append(cache_tag("author", post.author_id))
    return tags


def purge_after_commit(tags, using=None):
    """Purge `tags` once the current transaction commits (at once in autocommit mode).

    A failed purge is logged, not raised: the data is committed, so failing the request would not
    undo anything; the pages stay stale until they expire or the next purge.
    """
    tags = list(tags)

    def run():
        try:
            purge_cache(tags=tags)
        except EdgeCachePurgeError:
            logger.exception("edge-cache purge of %s failed; those pages may be stale until they expire", tags)

    transaction.on_commit(run, using=using)


@receiver(post_save, sender=POST_MODEL, dispatch_uid="edge_cache_post_saved")
def post_saved(sender, instance, created, raw=False, using=None, **kwargs):
    if raw:  # loaddata: fixtures, not content changes
        return
    # Tags are computed now, while the row and its relations are readable in this transaction.
    tags = post_tags(instance)
    if created:
        tags.append(ALL_POSTS_TAG)
    purge_after_commit(tags, using=using)


@receiver(post_delete, sender=POST_MODEL, dispatch_uid="edge_cache_post_deleted")
def post_deleted(sender, instance, using=None, **kwargs):
    purge_after_commit(post_tags(instance) + [ALL_POSTS_TAG], using=using)
