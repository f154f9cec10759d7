"""Set a Cache-Tag response header from the tags a view adds to the request.

    from .edge_cache import cache_tag
    from .middleware import add_cache_tags
    from .signals import post_tags

    def post_detail(request, slug):
        post = get_object_or_404(Post, slug=slug)
        add_cache_tags(request, *post_tags(post))          # post_42, category_news, author_9
        ...

    def post_list(request):
        posts = Post.objects.all()[:20]
        add_cache_tags(request, "posts", *(cache_tag("post", p.pk) for p in posts))
        ...

The edge cache reads Cache-Tag, stores the tags with the page and strips the header before the
page reaches a browser. Responses that are private, no-store or set a cookie are never stored
by the edge, so they get no header.
"""

import logging
import re

logger = logging.getLogger(__name__)

HEADER = "Cache-Tag"
# Printable ASCII without spaces and commas (the header is comma-separated), at most 1,024 each.
VALID_TAG = re.compile(r"^[\x21-\x2b\x2d-\x7e]{1,1024}$")
# The edge accepts 16 KB of tags per response and reserves part of it for tags it derives itself.
MAX_HEADER_BYTES = 15 * 1024


def add_cache_tags(request, *tags):
    """Add tags to this request's response (lower-cased, de-duplicated, order kept)."""
    current = getattr(request, "cache_tags", None)
    if current is None:
        current = request.cache_tags = []
    for tag in tags:
        tag = str(tag).strip().lower()
        if not VALID_TAG.match(tag):
            logger.warning("cache tag %r ignored: tags are printable ASCII without spaces or commas (use cache_tag())", tag[:64])
            continue
        if tag not in current:
            current.append(tag)


def _shared_cacheable(response):
    if response.cookies:
        return False
    directives = {d.strip().split("=", 1)[0].lower() for d in response.get("Cache-Control", "").split(",")}
    return not directives & {"private", "no-store"}


class CacheTagMiddleware:
    """Put it above SessionMiddleware and CsrfViewMiddleware (see README) so that it sees the
    cookies and Cache-Control they add on the way out."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        tags = list(getattr(request, "cache_tags", None) or ())
        if not tags or not _shared_cacheable(response):
            return response
        existing = [t.strip().lower() for t in response.get(HEADER, "").split(",") if t.strip()]
        header, size, dropped = [], 0, 0
        for tag in dict.fromkeys(existing + tags):  # de-duplicated, order kept
            if size + len(tag) + 1 > MAX_HEADER_BYTES:
                dropped += 1
                continue
            header.append(tag)
            size += len(tag) + 1
        if dropped:
            logger.warning("%s: %d cache tags dropped over %d bytes; tag lists with a broader tag", request.path, dropped, MAX_HEADER_BYTES)
        response[HEADER] = ",".join(header)
        return response
