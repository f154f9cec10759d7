from django.contrib.sitemaps.views import sitemap
from django.urls import path

from . import views
from .sitemaps import PostSitemap, StaticSitemap

urlpatterns = [
    path("", views.PostList.as_view(), name="home"),
    path("posts/<int:pk>/", views.PostDetail.as_view(), name="post"),
    path("categories/<int:pk>/", views.category_detail, name="category"),
    path("about/", views.about, name="about"),
    path("fragments/latest/", views.latest_fragment, name="latest"),
    path("fragments/greeting/", views.greeting_fragment, name="greeting"),
    path("with-fragments/", views.with_fragments),
    path("with-cookie/", views.with_cookie),
    path("sitemap.xml", sitemap, {"sitemaps": {"posts": PostSitemap, "static": StaticSitemap}}),
]
