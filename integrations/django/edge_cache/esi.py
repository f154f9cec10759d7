"""Fragments: an Edge Side Include when the worker asked for them, the fragment inline otherwise.

The worker announces ESI with the request header Surrogate-Capability: edge-cache="ESI/1.0" (on
rules with ESI on). Then {% edge_include "/fragments/latest/" %} writes <esi:include src=.../>,
the middleware marks the page Surrogate-Control: content="ESI/1.0", and the worker fetches and
caches the fragment on its own (with its own tags). Without the capability (runserver, tests,
another proxy) the fragment's view is called with the current request and its content inlined;
its tags then tag the page, and a personal fragment (private, no-store, a cookie) makes the
page private.
"""

import copy
import logging

from django.http import QueryDict
from django.urls import resolve, reverse
from django.utils.html import escape
from django.utils.safestring import mark_safe

from .tags import request_tags

logger = logging.getLogger("edge_cache")
USED_ATTR = "_edge_cache_esi"
CAPABILITY = "ESI/1.0"


def accepts_esi(request):
    return CAPABILITY in request.META.get("HTTP_SURROGATE_CAPABILITY", "")


def fragment_url(target, *args, **kwargs):
    """A path as given ("/fragments/x/?n=3"), or the URL pattern named `target` reversed."""
    return target if target.startswith("/") else reverse(target, args=args, kwargs=kwargs)


def include(request, target, *args, **kwargs):
    url = fragment_url(target, *args, **kwargs)
    if request is None:
        raise ValueError("edge_include needs the request: render the template with one (render(request, ...))")
    if accepts_esi(request):
        setattr(request, USED_ATTR, True)
        return mark_safe('<esi:include src="%s"/>' % escape(url))
    return mark_safe(render_inline(request, url))


def render_inline(request, url):
    """Call the fragment's view with a copy of `request` pointed at `url`; its content, or ""
    (logged) when it does not answer 200."""
    from .middleware import PRIVATE_ATTR, shared_cacheable

    path, _, query = url.partition("?")
    request_tags(request)  # created before the copy, so the fragment's tags land on the page
    sub = copy.copy(request)
    sub.path = sub.path_info = path
    sub.GET = QueryDict(query)
    sub.META = dict(request.META, PATH_INFO=path, QUERY_STRING=query)
    match = resolve(path)
    sub.resolver_match = match
    response = match.func(sub, *match.args, **match.kwargs)
    if hasattr(response, "render") and callable(response.render):
        response = response.render()
    if not shared_cacheable(response):
        setattr(request, PRIVATE_ATTR, True)
    if response.status_code != 200:
        logger.warning("edge_include %s answered %d: left out", url, response.status_code)
        return ""
    return response.content.decode(response.charset or "utf-8")
