"""Retries, the background thread, the request's added latency, and the outbox."""

import os
import sys
import time

from django.core.management import call_command
from django.db import transaction
from django.test import TransactionTestCase, override_settings

import edge_cache
from edge_cache import client, sender
from edge_cache.models import PurgeOutbox

from .blog.models import Category, Post
from .fake_edge import FakeEdge


class EdgeTestCase(TransactionTestCase):
    settings = {}

    def setUp(self):
        self.edge = FakeEdge()
        self.addCleanup(self.edge.stop)
        override = override_settings(EDGE_CACHE=self.edge.settings(**self.settings))
        override.enable()
        self.addCleanup(override.disable)
        self.news = Category.objects.create(name="News", slug="news")
        self.assertTrue(edge_cache.flush(10))
        self.edge.purges.clear()


class RetryTests(EdgeTestCase):
    def test_503_and_network_errors_are_retried(self):
        self.edge.script = [503, 502]
        result = client.send({"tags": ["a"]})
        self.assertEqual(result["invalidated_tags"], 1)
        self.assertEqual(len(self.edge.purges), 3)

    def test_retry_after_is_honoured(self):
        self.edge.script, self.edge.retry_after = [429], 1
        start = time.monotonic()
        client.send({"tags": ["a"]})
        self.assertGreaterEqual(time.monotonic() - start, 1)
        self.assertEqual(len(self.edge.purges), 2)

    def test_a_retry_after_past_the_limit_is_not_waited_for(self):
        self.edge.script, self.edge.retry_after = [429], 3600
        with self.assertRaises(client.PurgeError) as caught:
            client.send({"tags": ["a"]})
        self.assertEqual(caught.exception.status, 429)
        self.assertEqual(len(self.edge.purges), 1)

    def test_refusals_are_not_retried(self):
        for status in (400, 401, 403, 404):
            self.edge.purges.clear()
            self.edge.script = [status]
            with self.assertRaises(client.PurgeError) as caught:
                client.send({"tags": ["a"]})
            self.assertEqual((caught.exception.status, caught.exception.retryable), (status, False))
            self.assertEqual(len(self.edge.purges), 1)

    def test_attempts_are_bounded(self):
        self.edge.script = [503] * 10
        with self.assertRaises(client.PurgeError):
            client.send({"tags": ["a"]})
        self.assertEqual(len(self.edge.purges), 3)

    def test_no_answer(self):
        with override_settings(EDGE_CACHE=self.edge.settings(SITE_URL="http://127.0.0.1:9", RETRIES=1)):
            with self.assertRaises(client.PurgeError) as caught:
                client.send({"tags": ["a"]})
        self.assertEqual(caught.exception.status, 0)


class ThreadTests(EdgeTestCase):
    settings = {"BACKEND": "thread", "TIMEOUT": 0.5, "RETRIES": 2}

    def save_ms(self, post):
        start = time.perf_counter()
        post.save()
        return (time.perf_counter() - start) * 1000

    def test_a_save_does_not_wait_for_the_edge(self):
        post = Post.objects.create(title="x", category=self.news)
        self.assertTrue(edge_cache.flush(10))
        normal = sorted(self.save_ms(post) for _ in range(20))
        self.assertTrue(edge_cache.flush(10))
        self.edge.script = ["hang"] * 100
        hanging = sorted(self.save_ms(post) for _ in range(20))
        self.assertLess(hanging[-1], 1000)
        if os.environ.get("EDGE_CACHE_MEASURE"):
            sys.stderr.write("\nsave, 20 times: normal edge median %.2f ms, max %.2f ms; hanging edge median %.2f ms, max %.2f ms\n"
                             % (normal[10], normal[-1], hanging[10], hanging[-1]))
        self.edge.release.set()
        self.assertTrue(edge_cache.flush(30))

    def test_queued_batches_are_merged_and_sent(self):
        self.edge.script = ["hang"]  # hold the thread on the first batch
        first = Post.objects.create(title="first", category=self.news)
        time.sleep(0.2)
        for i in range(5):
            Post.objects.create(title="P%d" % i, category=self.news)
        self.edge.release.set()
        self.assertTrue(edge_cache.flush(10))
        self.assertEqual(len(self.edge.files), 1 + 1 + 5)  # the hung request counts once and is retried
        self.assertIn("%s/posts/%d/" % (self.edge.url, first.pk), self.edge.files)
        self.assertEqual(len(self.edge.purges), 3)  # hung, its retry, then the 5 merged

    def test_ten_saves_one_request(self):
        posts = [Post.objects.create(title="P%d" % i, category=self.news) for i in range(10)]
        self.assertTrue(edge_cache.flush(10))
        self.edge.purges.clear()
        with transaction.atomic():
            for post in posts:
                post.save()
        self.assertTrue(edge_cache.flush(10))
        self.assertEqual(len(self.edge.purges), 1)


class OutboxTests(EdgeTestCase):
    settings = {"OUTBOX": True, "RETRIES": 1}

    def test_sent_purges_leave_no_row(self):
        Post.objects.create(title="x", category=self.news)
        self.assertEqual(len(self.edge.purges), 1)
        self.assertEqual(PurgeOutbox.objects.count(), 0)

    def test_a_failed_purge_stays_and_the_command_sends_it(self):
        self.edge.script = [503]
        post = Post.objects.create(title="x", category=self.news)
        row = PurgeOutbox.objects.get()
        self.assertEqual((row.status, row.attempts), (PurgeOutbox.PENDING, 1))
        self.assertIn("503", row.last_error)
        call_command("edge_outbox", "--retry", "--older-than", "0", stdout=open(os.devnull, "w"))
        self.assertEqual(PurgeOutbox.objects.count(), 0)
        self.assertEqual(self.edge.purges[-1]["files"], ["%s/posts/%d/" % (self.edge.url, post.pk)])

    def test_refused_purges_are_marked_failed(self):
        self.edge.script = [400]
        Post.objects.create(title="x", category=self.news)
        self.assertEqual(PurgeOutbox.objects.get().status, PurgeOutbox.FAILED)
        call_command("edge_outbox", "--retry", "--older-than", "0", stdout=open(os.devnull, "w"))
        self.assertEqual(PurgeOutbox.objects.count(), 1)  # failed ones need --failed
        call_command("edge_outbox", "--retry", "--failed", "--older-than", "0", stdout=open(os.devnull, "w"))
        self.assertEqual(PurgeOutbox.objects.count(), 0)

    def test_a_full_queue_keeps_the_batch_in_the_outbox(self):
        with override_settings(EDGE_CACHE=self.edge.settings(OUTBOX=True, BACKEND="thread", QUEUE_SIZE=0)):
            Post.objects.create(title="x", category=self.news)
        self.assertEqual(PurgeOutbox.objects.count(), 1)
        self.assertEqual(self.edge.purges, [])


class StatsTests(EdgeTestCase):
    def test_counts(self):
        before = dict(sender.stats)
        Post.objects.create(title="x", category=self.news)
        self.assertEqual(sender.stats["sent"], before["sent"] + 1)
