"""The Celery backend, run eagerly (skipped where Celery is not installed)."""

import unittest

from django.test import TransactionTestCase, override_settings

import edge_cache

from .blog.models import Category, Post
from .fake_edge import FakeEdge

try:
    import celery
except ImportError:  # pragma: no cover - depends on the machine
    celery = None


@unittest.skipIf(celery is None, "Celery backend test SKIPPED: celery is not installed")
class CeleryBackendTests(TransactionTestCase):
    def setUp(self):
        self.app = celery.Celery("edge-cache-tests", set_as_current=True)
        self.app.conf.update(task_always_eager=True, broker_url="memory://")
        self.edge = FakeEdge()
        self.addCleanup(self.edge.stop)
        override = override_settings(EDGE_CACHE=self.edge.settings(BACKEND="auto", OUTBOX=True))
        override.enable()
        self.addCleanup(override.disable)

    def test_auto_picks_celery_and_the_task_retries(self):
        from edge_cache import conf
        from edge_cache.models import PurgeOutbox

        self.assertEqual(conf.get().backend, "celery")
        self.edge.script = [503]
        news = Category.objects.create(name="News", slug="news")
        self.assertTrue(edge_cache.flush(30))
        self.assertEqual(len(self.edge.purges), 2)  # the 503, then the task's retry
        self.assertEqual(self.edge.files, [self.edge.url + news.get_absolute_url()] * 2)
        self.assertEqual(PurgeOutbox.objects.count(), 0)
        Post.objects.create(title="x", category=news)
        self.assertTrue(edge_cache.flush(30))
        self.assertEqual(len(self.edge.purges), 3)
