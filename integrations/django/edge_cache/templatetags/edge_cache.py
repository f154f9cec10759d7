"""{% load edge_cache %}

{% edge_include "/fragments/latest/" %}      a fragment: ESI through the worker, inline otherwise
{% edge_include "blog:latest" 5 %}           the same, by URL name and arguments
{% edge_tags post post.category %}           tag the page with what the template shows
"""

from django import template

from .. import esi
from ..tags import add_tags

register = template.Library()


@register.simple_tag(takes_context=True)
def edge_include(context, target, *args, **kwargs):
    return esi.include(getattr(context, "request", None) or context.get("request"), target, *args, **kwargs)


@register.simple_tag(takes_context=True)
def edge_tags(context, *things):
    request = getattr(context, "request", None) or context.get("request")
    if request is not None:
        add_tags(request, things)
    return ""
