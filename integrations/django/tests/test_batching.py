"""One purge request per transaction; nothing on rollback; batches split at 100 items."""

from django.db import transaction
from django.test import TestCase, TransactionTestCase, override_settings

import edge_cache
from edge_cache.testing import capture_purges

from .blog.models import Category, Post
from .fake_edge import FakeEdge


class BatchingTests(TransactionTestCase):
    """Real commits (TransactionTestCase), real HTTP to a fake edge."""

    def setUp(self):
        self.edge = FakeEdge()
        self.addCleanup(self.edge.stop)
        self.override = override_settings(EDGE_CACHE=self.edge.settings())
        self.override.enable()
        self.addCleanup(self.override.disable)
        self.news = Category.objects.create(name="News", slug="news")
        self.edge.purges.clear()

    def test_ten_saves_in_one_transaction_are_one_request(self):
        posts = [Post.objects.create(title="P%d" % i, category=self.news) for i in range(10)]
        self.edge.purges.clear()
        with transaction.atomic():
            for post in posts:
                post.title += "!"
                post.save()
            self.assertEqual(self.edge.purges, [])  # nothing before the commit
        self.assertEqual(len(self.edge.purges), 1)
        self.assertEqual(len([t for t in self.edge.tags if t.startswith("blog.post.")]), 10)

    def test_rollback_sends_nothing(self):
        with self.assertRaises(RuntimeError), transaction.atomic():
            Post.objects.create(title="x", category=self.news)
            raise RuntimeError
        self.assertEqual(self.edge.purges, [])
        Post.objects.create(title="y", category=self.news)  # the next transaction is not polluted
        self.assertEqual(len(self.edge.purges), 1)
        self.assertEqual(len(self.edge.files), 1)

    def test_a_rolled_back_savepoint_drops_only_its_purges(self):
        with transaction.atomic():
            kept = Post.objects.create(title="kept", category=self.news)
            try:
                with transaction.atomic():
                    Post.objects.create(title="gone", category=self.news)
                    raise RuntimeError
            except RuntimeError:
                pass
        self.assertEqual(len(self.edge.purges), 1)
        self.assertEqual(self.edge.files, ["%s/posts/%d/" % (self.edge.url, kept.pk)])

    def test_a_savepoint_rolled_back_first_does_not_lose_later_purges(self):
        with transaction.atomic():
            try:
                with transaction.atomic():
                    Post.objects.create(title="gone", category=self.news)
                    raise RuntimeError
            except RuntimeError:
                pass
            kept = Post.objects.create(title="kept", category=self.news)
        self.assertEqual(self.edge.files, ["%s/posts/%d/" % (self.edge.url, kept.pk)])

    def test_fifty_creates_in_one_transaction_one_request(self):
        with transaction.atomic():
            for i in range(50):
                Post.objects.create(title="P%d" % i, category=self.news)
        self.assertEqual(len(self.edge.purges), 1)
        self.assertEqual(len(self.edge.files), 50)

    def test_more_than_100_items_are_split(self):
        posts = [Post.objects.create(title="P%d" % i, category=self.news) for i in range(120)]
        self.edge.purges.clear()
        with transaction.atomic():
            for post in posts:
                post.save()  # URL and tag of each: 240 items, + the category's list tag
        self.assertEqual(len(self.edge.purges), 3)
        for body in self.edge.purges:
            self.assertLessEqual(sum(len(v) for v in body.values() if isinstance(v, list)), 100)

    def test_autocommit_sends_at_once(self):
        Post.objects.create(title="x", category=self.news)
        self.assertEqual(len(self.edge.purges), 1)

    def test_purge_by_hand_joins_the_transaction(self):
        with transaction.atomic():
            edge_cache.purge(tags=["a"], urls=["/x/"], prefixes=["www.example.com/blog/"], hosts=["www.example.com"])
            edge_cache.purge(tags=["b"])
        self.assertEqual(self.edge.purges, [{
            "tags": ["a", "b"], "files": [self.edge.url + "/x/"], "prefixes": ["www.example.com/blog/"],
            "hosts": ["www.example.com"]}])

    def test_soft_and_everything(self):
        edge_cache.purge(tags=["a"], soft=True)
        edge_cache.purge(everything=True)
        self.assertEqual(self.edge.purges, [{"soft": True, "tags": ["a"]}, {"purge_everything": True}])


class OffByDefaultInTests(TestCase):
    def test_nothing_is_sent_but_purges_can_be_captured(self):
        edge = FakeEdge()
        self.addCleanup(edge.stop)
        settings = edge.settings()
        del settings["ENABLED"]
        with override_settings(EDGE_CACHE=settings), capture_purges() as purges, \
                self.captureOnCommitCallbacks(execute=True):
            Category.objects.create(name="x", slug="x")
        self.assertEqual(edge.purges, [])
        self.assertEqual(len(purges), 1)
