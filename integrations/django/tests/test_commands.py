"""edge_purge, edge_warm, edge_verify, edge_explain, and the admin action."""

import io

from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import TestCase, override_settings

from edge_cache.management.commands.edge_verify import verdict
from edge_cache.probe import Probe

from .blog.models import Category, Post
from .fake_edge import FakeEdge


class CommandTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.news = Category.objects.create(name="News", slug="news")
        cls.posts = [Post.objects.create(title="P%d" % i, category=cls.news) for i in range(3)]

    def setUp(self):
        self.edge = FakeEdge()
        self.addCleanup(self.edge.stop)
        override = override_settings(EDGE_CACHE=self.edge.settings())
        override.enable()
        self.addCleanup(override.disable)

    def run_command(self, *args):
        out = io.StringIO()
        call_command(*args, stdout=out, stderr=io.StringIO())
        return out.getvalue()

    def test_edge_purge(self):
        output = self.run_command("edge_purge", "--tag", "a", "--url", "/x/", "--prefix", "h/p/", "--host", "h", "--soft")
        self.assertEqual(self.edge.purges, [{"soft": True, "tags": ["a"], "files": [self.edge.url + "/x/"],
                                             "prefixes": ["h/p/"], "hosts": ["h"]}])
        self.assertIn("id p1", output)
        self.run_command("edge_purge", "--everything")
        self.assertEqual(self.edge.purges[-1], {"purge_everything": True})

    def test_edge_purge_model_objects(self):
        post = self.posts[0]
        self.run_command("edge_purge", "--model", "blog.Post", "--pk", str(post.pk))
        self.assertIn("blog.post.%d" % post.pk, self.edge.purges[-1]["tags"])
        self.run_command("edge_purge", "--model", "blog.Post")
        self.assertEqual(self.edge.purges[-1], {"tags": ["blog.post"]})

    def test_edge_purge_reports_refusals(self):
        self.edge.script = [401]
        with self.assertRaisesRegex(CommandError, "401"):
            self.run_command("edge_purge", "--tag", "a")

    def test_edge_warm_from_the_sitemaps(self):
        output = self.run_command("edge_warm", "--sitemaps", "--languages", "en,fr")
        paths = {"/", "/about/"} | {"/posts/%d/" % p.pk for p in self.posts}
        self.assertEqual(set(self.edge.hits), paths)
        self.assertEqual(set(self.edge.hits.values()), {2})  # en and fr
        self.assertIn("warmed 10 URL(s)", output)
        self.assertIn("HIT 5, MISS 5", output)

    def test_edge_warm_fails_on_errors(self):
        with self.assertRaisesRegex(CommandError, "1 URL"):
            self.run_command("edge_warm", "/ok/", "/broken/")

    def test_edge_verify(self):
        output = self.run_command("edge_verify", "/a/", "/admin/", "/cookie/")
        self.assertIn("ok   %s/a/: HIT" % self.edge.url, output)
        self.assertIn("bypass", output)
        self.assertIn("not stored (set-cookie)", output)
        self.assertIn("verified: 0 failed, 2 uncacheable by design", output)
        with self.assertRaises(CommandError):
            self.run_command("edge_verify", "--strict", "/admin/")

    def test_verdicts(self):
        miss = Probe("u", 200, "MISS", "edge-cache; fwd=uri-miss; stored; detail=html")
        self.assertFalse(verdict(miss, miss)[0])
        self.assertFalse(verdict(miss, Probe("u", 200, ""))[0])
        self.assertFalse(verdict(miss, Probe("u", 503, "MISS"))[0])
        self.assertTrue(verdict(Probe("u", 200, "HIT"), Probe("u", 200, "HIT"))[0])

    def test_edge_explain(self):
        output = self.run_command("edge_explain", "/posts/1/")
        self.assertIn("key:     k1", output)
        self.assertIn("tags:    blog.post.1", output)
        self.assertIn("/posts/1/", output)


class AdminActionTests(TestCase):
    def test_registered_models_get_the_action(self):
        news = Category.objects.create(name="News", slug="news")
        post = Post.objects.create(title="x", category=news)
        User.objects.create_superuser("admin", "a@example.com", "pw")
        self.client.login(username="admin", password="pw")
        page = self.client.get("/admin/blog/post/")
        self.assertContains(page, "Purge from edge cache")
        self.assertNotContains(self.client.get("/admin/blog/author/"), "Purge from edge cache")
        from edge_cache.testing import capture_purges

        with capture_purges() as purges, self.captureOnCommitCallbacks(execute=True):
            response = self.client.post("/admin/blog/post/", {
                "action": "purge_from_edge_cache", "_selected_action": [post.pk]}, follow=True)
        self.assertContains(response, "Purge of 1 object(s)")
        self.assertIn("blog.post.%d" % post.pk, purges.tags)
