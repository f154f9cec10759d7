"""EdgeCacheMiddleware: turns the tags views add into the Cache-Tag header the worker reads, and
marks pages that carry Edge Side Includes.

Put it high in MIDDLEWARE, above SessionMiddleware, CsrfViewMiddleware, MessageMiddleware and
LocaleMiddleware: responses go through middleware bottom-up, so from there it sees the cookies
and Cache-Control those add. A page the edge will not store (a cookie, private, no-store) gets no
tags: they would only cost bytes.
"""

from django.utils.cache import patch_cache_control

from . import conf, esi
from .tags import REQUEST_ATTR, header_value

PRIVATE_ATTR = "_edge_cache_private"


def shared_cacheable(response):
    """Whether a shared cache may store `response` at all (the worker applies the same rule)."""
    if response.cookies:
        return False
    directives = {d.strip().split("=", 1)[0].lower() for d in response.get("Cache-Control", "").split(",")}
    return not directives & {"private", "no-store"}


class EdgeCacheMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        settings = conf.get()
        if getattr(request, PRIVATE_ATTR, False):  # an inline fragment was personal
            patch_cache_control(response, private=True)
        if getattr(request, esi.USED_ATTR, False):
            response["Surrogate-Control"] = 'content="ESI/1.0"'
        tags = getattr(request, REQUEST_ATTR, None)
        if tags and shared_cacheable(response):
            name = settings.TAG_HEADER
            response[name] = header_value(response.get(name, ""), tags, settings.MAX_TAG_BYTES, request.path)
        return response
