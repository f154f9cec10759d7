from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.cache import cache_control
from django.views.generic import DetailView, ListView

import edge_cache

from .models import Category, Post


class PostDetail(edge_cache.EdgeCacheTagsMixin, DetailView):
    model = Post
    template_name = "blog/post_detail.html"


class PostList(edge_cache.EdgeCacheTagsMixin, ListView):
    model = Post
    paginate_by = 5
    template_name = "blog/post_list.html"


@edge_cache.cache_tags(lambda request, pk: edge_cache.tag(Category, pk, "posts"))
def category_detail(request, pk):
    category = get_object_or_404(Category, pk=pk)
    posts = list(category.posts.all())
    edge_cache.add_tags(request, category, posts)
    return render(request, "blog/category_detail.html", {"category": category, "posts": posts})


def about(request):
    return HttpResponse("<h1>About</h1>")


@edge_cache.cache_tags(Post)
def latest_fragment(request):
    posts = list(Post.objects.all()[:3])
    edge_cache.add_tags(request, posts)
    return render(request, "blog/latest.html", {"posts": posts})


@cache_control(private=True)
def greeting_fragment(request):
    return HttpResponse("<p>Hello, you</p>")


def with_fragments(request):
    return render(request, "blog/with_fragments.html", {"personal": request.GET.get("personal")})


def with_cookie(request):
    edge_cache.add_tags(request, "blog.cookie")
    response = HttpResponse("cookie")
    response.set_cookie("seen", "1")
    return response
