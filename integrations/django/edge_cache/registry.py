"""Declarative dependencies: what each page shows, so a change purges exactly those pages.

    edge_cache.register(
        Post,
        urls=lambda post: [post.get_absolute_url()],                 # purged on every change
        tags=lambda post: [edge_cache.tag(Category, post.category_id, "posts")],
        depends_on={Category: "category", Author: "author", Tag: "tags"},
    )

A page that shows a post carries the post's tag (blog.post.42, see views.py). Saving or deleting
the post purges that tag, its URLs (so a new post's URL is not a cached 404), its extra tags,
and, on creation and deletion, the model's tag (blog.post: pages that list posts). Saving or
deleting a Category purges the tags of the posts that show it (field "category"), not every page
in the category: no over-purge. m2m add/remove/clear purge both sides.
"""

import logging

from django.apps import apps
from django.db.models import QuerySet
from django.db.models.signals import m2m_changed, post_save, pre_delete

from . import batch, conf
from .purgeset import PurgeSet
from .tags import model_label, tag, tags_for

logger = logging.getLogger("edge_cache")
_registry = {}  # model label -> Registration
_dependents = {}  # dependency label -> [(Registration, resolver)]


class Registration:
    def __init__(self, label, urls, tags):
        self.label = label
        self.urls = urls
        self.tags = tags

    @property
    def model(self):
        return apps.get_model(self.label)


def _label(model):
    return model.lower() if isinstance(model, str) else model_label(model)


def _default_urls(instance):
    return [instance.get_absolute_url()] if hasattr(instance, "get_absolute_url") else []


def register(model, *, urls=None, tags=None, depends_on=None):
    """Purge the pages that show `model`'s objects when they change (see the module docstring).

    model: a model class or "app_label.Model". urls: callable(obj) -> paths or URLs (default:
    get_absolute_url() when the model has one; pass `urls=list` to purge none). tags:
    callable(obj) -> extra tags. depends_on: {Model: field name on `model` (FK or M2M), or
    callable(dependency obj) -> objects, primary keys or a queryset of `model`}.
    """
    label = _label(model)
    _registry[label] = registration = Registration(label, urls or _default_urls, tags)
    post_save.connect(_saved, sender=model, dispatch_uid="edge_cache.saved." + label)
    pre_delete.connect(_deleting, sender=model, dispatch_uid="edge_cache.deleting." + label)
    for dependency, how in (depends_on or {}).items():
        dep_label = _label(dependency)
        entries = [e for e in _dependents.get(dep_label, []) if e[0].label != label]
        _dependents[dep_label] = entries + [(registration, how)]
        post_save.connect(_dependency_saved, sender=dependency, dispatch_uid="edge_cache.dep_saved." + dep_label)
        pre_delete.connect(_dependency_deleting, sender=dependency, dispatch_uid="edge_cache.dep_deleting." + dep_label)
    m2m_changed.connect(_m2m_changed, dispatch_uid="edge_cache.m2m_changed")
    return model


def unregister(model):
    """Forget `model` (tests). Its signal receivers stay connected and find nothing to do."""
    label = _label(model)
    _registry.pop(label, None)
    for dep_label, entries in list(_dependents.items()):
        _dependents[dep_label] = [e for e in entries if e[0].label != label]


def registered(model):
    return _label(model) in _registry


def changes(instance, created=False, deleted=False):
    """The PurgeSet for a change to `instance`: its own pages, and the pages of objects that
    depend on it. A callable that fails is logged and replaced by the model's tag (a broader
    purge, never a missed one)."""
    items = PurgeSet(soft=conf.get().SOFT)
    registration = _registry.get(model_label(type(instance)))
    if registration is not None:
        items.update(_own_changes(registration, instance, created, deleted))
    if not created:
        for dependent, how in _dependents.get(model_label(type(instance)), []):
            items.update(_dependent_changes(dependent, how, instance))
    return items


def _own_changes(registration, instance, created, deleted):
    settings = conf.get()
    model = type(instance)
    # A new object is on no page yet: its own tag would purge nothing, its URL may be a cached 404.
    tags = [tag(instance)] if instance.pk is not None and not created else []
    if created or deleted:
        tags.append(tag(model))
    files, extra = _call(registration.urls, instance, model), _call(registration.tags, instance, model)
    if files is None or extra is None:
        tags.append(tag(model))
    tags.extend(extra or ())
    files = [u for url in files or () if url for u in settings.absolute_urls(url)]
    return PurgeSet(tags=tags_for(*tags), files=files, soft=settings.SOFT)


def _call(function, instance, model):
    """A user callable's answer as a list; None (logged) when it failed."""
    if function is None:
        return []
    try:
        return list(function(instance) or ())
    except Exception:
        logger.exception("edge-cache: %s(%r) failed; purging the tag %s instead", getattr(function, "__name__", function),
                         instance, tag(model))
        return None


def _dependent_changes(dependent, how, instance):
    """Tags of the `dependent` objects that show `instance`."""
    try:
        if isinstance(how, str):
            found = dependent.model._default_manager.filter(**{how: instance})
        else:
            found = how(instance)
        pks = list(found.values_list("pk", flat=True) if isinstance(found, QuerySet) else
                   (getattr(o, "pk", o) for o in found or ()))
    except Exception:
        logger.exception("edge-cache: dependents of %r failed; purging %s", instance, dependent.label)
        return PurgeSet(tags=[tag(dependent.model)])
    limit = conf.get().MAX_DEPENDENTS
    if len(pks) > limit:
        logger.warning("edge-cache: %r has %d dependents in %s (over %d): %d purge requests",
                       instance, len(pks), dependent.label, limit, -(-len(pks) // 100))
    return PurgeSet(tags=[tag(dependent.model, pk) for pk in pks if pk is not None])


def _saved(sender, instance, created=False, raw=False, using=None, **kwargs):
    if not raw:  # loaddata: fixtures, not content changes
        batch.purge(changes(instance, created=created), using=using)


def _deleting(sender, instance, using=None, **kwargs):
    # pre_delete, not post_delete: the related rows the URLs and tags read still exist, and the
    # purge is sent only if the delete commits.
    batch.purge(changes(instance, deleted=True), using=using)


def _dependency_saved(sender, instance, created=False, raw=False, using=None, **kwargs):
    if not raw and not created and not registered(sender):  # registered: _saved did it
        batch.purge(changes(instance), using=using)


def _dependency_deleting(sender, instance, using=None, **kwargs):
    if not registered(sender):
        batch.purge(changes(instance, deleted=True), using=using)


def _m2m_changed(sender, instance, action, reverse, model, pk_set, using=None, **kwargs):
    """add/remove/clear change what both sides show: purge both when registered."""
    if action not in ("post_add", "post_remove", "pre_clear"):
        return
    if action == "pre_clear":
        pk_set = _related_pks(sender, instance, model)
    items = PurgeSet(soft=conf.get().SOFT)
    if model_label(type(instance)) in _registry or model_label(type(instance)) in _dependents:
        items.update(changes(instance))
    if model_label(model) in _registry and pk_set:
        items.update(PurgeSet(tags=[tag(model, pk) for pk in pk_set]))
    batch.purge(items, using=using)


def _related_pks(through, instance, model):
    """The pks of `model` linked to `instance` through `through` (m2m clear sends none)."""
    fields = [f for f in through._meta.fields if getattr(f, "related_model", None) is not None]
    source = [f for f in fields if f.related_model is type(instance)][:1]
    target = [f for f in fields if f.related_model is model and f not in source]
    if not source or not target:
        return set()
    rows = through._default_manager.filter(**{source[0].name: instance.pk})
    return set(rows.values_list(target[0].attname, flat=True))
