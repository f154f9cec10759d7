"""Purges for the writes that send no signals: QuerySet.update(), bulk_create(), bulk_update().

    edge_cache.update(Post.objects.filter(category=old), category=new)
    edge_cache.bulk_create(Post, [Post(...), Post(...)])
    edge_cache.purge_objects(Post.objects.filter(pk__in=changed_ids))
"""

from django.db import transaction

from . import batch, conf, registry
from .purgeset import PurgeSet


def purge_objects(objects, created=False, deleted=False, using=None):
    """Purge what register() would for each of `objects` (a queryset is read in chunks); objects
    of unregistered models purge their own tag. One batch, sent when the transaction commits."""
    if hasattr(objects, "iterator"):
        using = using or objects.db
        objects = objects.iterator(chunk_size=500)
    items = PurgeSet(soft=conf.get().SOFT)
    for obj in objects:
        items.update(registry.changes(obj, created=created, deleted=deleted))
    batch.purge(items, using=using)


def update(queryset, **values):
    """queryset.update(**values), then purge the rows it changed (found before the update, read
    after it, so URLs and tags are the new ones; the old pages carry the objects' tags)."""
    model, using = queryset.model, queryset.db
    with transaction.atomic(using=using):
        pks = list(queryset.values_list("pk", flat=True))
        count = queryset.update(**values)
        purge_objects(model._default_manager.using(using).filter(pk__in=pks))
    return count


def bulk_create(model, objs, **kwargs):
    """model.objects.bulk_create(objs), then purge as for created objects (their URLs, the model's
    list tag). Where the database returns no primary keys, URLs that need one are replaced by
    the model's tag (logged)."""
    manager = model._default_manager
    using = kwargs.get("using") or manager.db
    kwargs.pop("using", None)
    with transaction.atomic(using=using):
        created = manager.using(using).bulk_create(objs, **kwargs)
        purge_objects(created, created=True, using=using)
    return created


def bulk_update(objs, fields, **kwargs):
    """Model.objects.bulk_update(objs, fields), then purge those objects."""
    objs = list(objs)
    if not objs:
        return 0
    manager = type(objs[0])._default_manager
    using = manager.db
    with transaction.atomic(using=using):
        count = manager.bulk_update(objs, fields, **kwargs)
        purge_objects(objs, using=using)
    return count
