"""Tagging views: a decorator for functions, a mixin for class-based views.

    @edge_cache.cache_tags("blog.home", lambda request, slug: [Category])
    def home(request): ...

    class PostDetail(edge_cache.EdgeCacheTagsMixin, DetailView):
        model = Post            # tagged blog.post.<pk>

    class PostList(edge_cache.EdgeCacheTagsMixin, ListView):
        model = Post            # tagged blog.post and blog.post.<pk> of each post on the page
"""

from functools import wraps

from .tags import add_tags


def cache_tags(*things):
    """Tag a view's responses. Each item: a tag string, a model (its list tag), an instance, or
    callable(request, *args, **kwargs) returning any of those (or a list of them)."""

    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            for thing in things:
                add_tags(request, thing(request, *args, **kwargs) if callable(thing) and not isinstance(thing, type) else thing)
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


class EdgeCacheTagsMixin:
    """Tags the page with what it shows: self.object (DetailView, UpdateView ...), every object of
    the page's object_list and the list's model tag (ListView), plus `cache_tags` and whatever
    get_cache_tags() returns."""

    cache_tags = ()

    def get_cache_tags(self, context):
        found = list(self.cache_tags)
        obj = context.get("object")
        if obj is not None:
            found.append(obj)
        object_list = context.get("object_list")
        if object_list is not None:
            model = getattr(object_list, "model", None) or getattr(self, "model", None)
            if model is not None:
                found.append(model)
            found.append(list(object_list))
        return found

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        add_tags(self.request, self.get_cache_tags(context))
        return context
