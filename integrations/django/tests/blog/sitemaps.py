from django.contrib.sitemaps import Sitemap

from .models import Post


class PostSitemap(Sitemap):
    def items(self):
        return Post.objects.order_by("pk")


class StaticSitemap(Sitemap):
    def items(self):
        return ["/", "/about/"]

    def location(self, item):
        return item
