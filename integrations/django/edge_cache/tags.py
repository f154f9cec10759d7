"""Cache tags built from primary keys, and the per-request list the middleware turns into a header.

Tags come from primary keys ("blog.post.42"), never from slugs or titles: a renamed object keeps
its tag, so the pages that show it are still found when it changes. The edge compares tags
case-insensitively and rejects a purge request with one invalid tag, so every tag goes through
tag() or clean_tag(), on the view side and on the purge side alike.
"""

import logging
import re
from urllib.parse import quote

from django.db.models import Model

from . import conf

logger = logging.getLogger("edge_cache")

# Printable ASCII without spaces and commas (the header is comma-separated), at most 1,024.
VALID_TAG = re.compile(r"^[\x21-\x2b\x2d-\x7e]{1,1024}$")
REQUEST_ATTR = "_edge_cache_tags"


def _encode(part):
    """Anything but [A-Za-z0-9-_~] is percent-encoded ('.' too: it separates the parts)."""
    return quote(str(part), safe="-_~").replace(".", "%2e").lower()


def model_label(model):
    """'app_label.modelname' of the concrete model (a proxy shows the same rows)."""
    return model._meta.concrete_model._meta.label_lower


def tag(obj, *parts):
    """The tag of a model instance ("blog.post.42"), of a model ("blog.post": pages listing its
    objects), or of either with extra parts (tag(Category, 3, "posts") == "blog.category.3.posts").
    A string is returned cleaned."""
    if isinstance(obj, str) and not parts:
        return clean_tag(obj)
    if isinstance(obj, type) and issubclass(obj, Model):
        pieces = [model_label(obj)]
    elif isinstance(obj, Model):
        if obj.pk is None:
            raise ValueError("%r has no primary key yet: it has no tag" % (obj,))
        pieces = [model_label(type(obj)), _encode(obj.pk)]
    else:
        raise TypeError("tag() takes a model, a model instance or a string, not %r" % (obj,))
    pieces.extend(_encode(p) for p in parts)
    return clean_tag(".".join(pieces))


def clean_tag(value):
    """A tag as the edge stores it: prefixed (TAG_PREFIX), lower-cased, validated."""
    prefix = conf.get().TAG_PREFIX
    value = str(value).strip().lower()
    if prefix and not value.startswith(prefix.lower()):
        value = prefix.lower() + value
    if not VALID_TAG.match(value):
        raise ValueError("invalid cache tag %r: printable ASCII without spaces or commas, at most 1,024" % value[:64])
    return value


def tags_for(*things):
    """Tags for a mix of strings, models, instances and iterables of them (lists, querysets)."""
    out = {}
    for thing in things:
        if isinstance(thing, (str, Model)) or (isinstance(thing, type) and issubclass(thing, Model)):
            if isinstance(thing, Model) and thing.pk is None:
                continue
            out[tag(thing)] = None
        elif thing is not None:
            out.update(dict.fromkeys(tags_for(*thing)))
    return list(out)


def add_tags(request, *things):
    """Tag the response to `request` (see tags_for for what `things` may be)."""
    current = request_tags(request)
    for value in tags_for(*things):
        if value not in current:
            current.append(value)


def request_tags(request):
    """The request's tag list, created on first use (a fragment request shares it, see esi.py)."""
    current = getattr(request, REQUEST_ATTR, None)
    if current is None:
        current = []
        setattr(request, REQUEST_ATTR, current)
    return current


def header_value(existing, tags, limit, path=""):
    """Existing header tags plus `tags`, de-duplicated, cut at `limit` bytes (and say so)."""
    merged = dict.fromkeys(t.strip().lower() for t in re.split(r"[,\s]+", existing or "") if t.strip())
    merged.update(dict.fromkeys(tags))
    kept, size = [], 0
    for value in merged:
        if size + len(value) + 1 > limit:
            break
        kept.append(value)
        size += len(value) + 1
    if len(kept) < len(merged):
        logger.warning(
            "%s: %d cache tags dropped past %d bytes; tag long lists with the model's tag instead",
            path, len(merged) - len(kept), limit,
        )
    return ",".join(kept)
