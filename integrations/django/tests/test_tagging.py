"""Tags from primary keys, the Cache-Tag header, the decorator, the mixin and the template tags."""

from django.http import HttpResponse
from django.test import RequestFactory, TestCase, override_settings

import edge_cache
from edge_cache.middleware import EdgeCacheMiddleware
from edge_cache.tags import clean_tag, header_value

from .blog.models import Author, Category, Post


class TagTests(TestCase):
    def test_tags_come_from_primary_keys(self):
        category = Category.objects.create(name="News", slug="news")
        self.assertEqual(edge_cache.tag(category), "blog.category.%d" % category.pk)
        self.assertEqual(edge_cache.tag(Category), "blog.category")
        self.assertEqual(edge_cache.tag(Category, 3, "posts"), "blog.category.3.posts")
        category.slug = "renamed"
        self.assertEqual(edge_cache.tag(category), "blog.category.%d" % category.pk)

    def test_parts_are_encoded_and_lower_cased(self):
        self.assertEqual(edge_cache.tag(Category, "Café.1 x"), "blog.category.caf%c3%a9%2e1%20x")
        self.assertEqual(clean_tag("Post_42"), "post_42")
        for bad in ("", "a,b", "a b", "x" * 1025):
            with self.assertRaises(ValueError):
                clean_tag(bad)

    def test_unsaved_objects_have_no_tag(self):
        with self.assertRaises(ValueError):
            edge_cache.tag(Category(name="x"))
        self.assertEqual(edge_cache.tags_for(Category(name="x"), Category), ["blog.category"])

    @override_settings(EDGE_CACHE={"TAG_PREFIX": "staging-"})
    def test_prefix(self):
        self.assertEqual(edge_cache.tag(Category, 1), "staging-blog.category.1")
        self.assertEqual(edge_cache.tags_for("staging-x", "y"), ["staging-x", "staging-y"])

    def test_header_value_deduplicates_and_respects_the_budget(self):
        self.assertEqual(header_value("a, B", ["b", "c"], 100), "a,b,c")
        with self.assertLogs("edge_cache", "WARNING"):
            self.assertEqual(header_value("", ["aaaa", "bbbb", "cccc"], 10), "aaaa,bbbb")


class MiddlewareTests(TestCase):
    def respond(self, response, *tags):
        request = RequestFactory().get("/x/")
        edge_cache.add_tags(request, *tags)
        return EdgeCacheMiddleware(lambda r: response)(request)

    def test_sets_the_header(self):
        self.assertEqual(self.respond(HttpResponse(), "a", "b")["Cache-Tag"], "a,b")

    def test_no_header_on_pages_the_edge_does_not_store(self):
        with_cookie = HttpResponse()
        with_cookie.set_cookie("x", "1")
        private = HttpResponse()
        private["Cache-Control"] = "private, max-age=60"
        for response in (with_cookie, private):
            self.assertNotIn("Cache-Tag", self.respond(response, "a"))

    @override_settings(EDGE_CACHE={"TAG_HEADER": "Surrogate-Key"})
    def test_header_name(self):
        self.assertEqual(self.respond(HttpResponse(), "a")["Surrogate-Key"], "a")


class ViewTagTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.news = Category.objects.create(name="News", slug="news")
        cls.author = Author.objects.create(name="Ann")
        cls.posts = [Post.objects.create(title="P%d" % i, category=cls.news, author=cls.author) for i in range(7)]

    def tags(self, path):
        response = self.client.get(path)
        self.assertEqual(response.status_code, 200)
        return response["Cache-Tag"].split(",")

    def test_detail_mixin_tags_the_object_only(self):
        post = self.posts[0]
        self.assertEqual(self.tags("/posts/%d/" % post.pk), ["blog.post.%d" % post.pk])

    def test_list_mixin_tags_the_model_and_the_page_objects(self):
        tags = self.tags("/")
        page = sorted(self.posts, key=lambda p: -p.pk)[:5]
        self.assertEqual(tags, ["blog.post"] + ["blog.post.%d" % p.pk for p in page])

    def test_decorator_and_add_tags(self):
        tags = self.tags("/categories/%d/" % self.news.pk)
        self.assertEqual(tags[:2], ["blog.category.%d.posts" % self.news.pk, "blog.category.%d" % self.news.pk])
        self.assertEqual(len(tags), 2 + len(self.posts))

    def test_template_tag_and_inline_fragment_tags_reach_the_page(self):
        response = self.client.get("/with-fragments/")
        tags = response["Cache-Tag"].split(",")
        self.assertIn("blog.page", tags)
        self.assertIn("blog.post", tags)  # from the fragment's decorator
        self.assertIn('<ul class="latest">', response.content.decode())
        self.assertNotIn("Surrogate-Control", response)

    def test_esi_when_the_worker_asks_for_it(self):
        response = self.client.get("/with-fragments/", HTTP_SURROGATE_CAPABILITY='edge-cache="ESI/1.0"')
        self.assertEqual(response["Surrogate-Control"], 'content="ESI/1.0"')
        self.assertIn('<esi:include src="/fragments/latest/"/>', response.content.decode())
        self.assertNotIn("blog.post", response["Cache-Tag"])  # the fragment is cached on its own

    def test_a_personal_inline_fragment_makes_the_page_private(self):
        response = self.client.get("/with-fragments/?personal=1")
        self.assertIn("Hello, you", response.content.decode())
        self.assertIn("private", response["Cache-Control"])
        self.assertNotIn("Cache-Tag", response)
