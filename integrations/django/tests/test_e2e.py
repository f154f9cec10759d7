"""End to end: this test project served by Django's live server, behind the real worker
(wrangler dev with ORIGIN_URL pointing at it). Saving an object must purge exactly the pages that
show it and leave the others HIT; ten saves in one transaction must be one purge request.

Skipped when the repository's node_modules/.bin/wrangler is missing (run npm ci first)."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request
from pathlib import Path

from django.db import transaction
from django.test import LiveServerTestCase, override_settings

import edge_cache
from edge_cache import probe

from .blog.models import Author, Category, Post

REPO = Path(__file__).resolve().parents[3]
WRANGLER = REPO / "node_modules" / ".bin" / "wrangler"
TOKEN = "e2e-purge-token-0123456789"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@unittest.skipUnless(WRANGLER.exists(), "end-to-end test SKIPPED: %s is missing (npm ci)" % WRANGLER)
class EndToEndTests(LiveServerTestCase):
    host = "127.0.0.1"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.state = tempfile.mkdtemp(prefix="edge-cache-e2e-")
        cls.log = open(os.path.join(cls.state, "wrangler.log"), "w+")
        port = free_port()
        cls.edge = "http://127.0.0.1:%d" % port
        env = dict(os.environ, PATH="%s:%s" % (REPO / "node_modules" / ".bin", os.environ.get("PATH", "")),
                   CLOUDFLARE_CF_FETCH_ENABLED="false", WRANGLER_SEND_METRICS="false", CI="true")
        cls.worker = subprocess.Popen(
            [str(WRANGLER), "dev", "-c", str(REPO / "wrangler.toml"), "--ip", "127.0.0.1", "--port", str(port),
             "--var", "ORIGIN_URL:" + cls.live_server_url, "--var", "PURGE_TOKEN:" + TOKEN,
             "--persist-to", os.path.join(cls.state, "persist")],
            cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=cls.log, stderr=subprocess.STDOUT,
            start_new_session=True)
        cls.settings_override = override_settings(EDGE_CACHE={
            "SITE_URL": cls.edge, "TOKEN": TOKEN, "ENABLED": True, "BACKEND": "thread"})
        cls.settings_override.enable()
        try:
            cls.wait_for_worker()
        except Exception:
            cls.tearDownClass()
            raise

    @classmethod
    def wait_for_worker(cls, timeout=90):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if cls.worker.poll() is not None:
                break
            if probe.fetch(cls.edge + "/__edge/health", timeout=2).status == 200:
                return
            time.sleep(0.25)
        cls.log.seek(0)
        raise RuntimeError("the worker did not start:\n" + cls.log.read()[-3000:])

    @classmethod
    def tearDownClass(cls):
        cls.settings_override.disable()
        if cls.worker.poll() is None:
            os.killpg(cls.worker.pid, signal.SIGTERM)  # wrangler and the workerd it started
            try:
                cls.worker.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(cls.worker.pid, signal.SIGKILL)
                cls.worker.wait()
        cls.log.close()
        shutil.rmtree(cls.state, ignore_errors=True)
        super().tearDownClass()

    def get(self, path):
        result = probe.fetch(self.edge + path, timeout=30)
        self.assertFalse(result.error, result.error)
        return result

    def verdicts(self, pages):
        return {name: self.get(path).cache for name, path in pages.items()}

    def saved(self, action):
        """Run `action`, wait until its purges reached the worker."""
        start = time.perf_counter()
        action()
        returned = time.perf_counter()
        self.assertTrue(edge_cache.flush(30))
        if os.environ.get("EDGE_CACHE_MEASURE"):
            sys.stderr.write("\nsave returned in %.2f ms; purge accepted by the worker %.2f ms after the call\n" % (
                (returned - start) * 1000, (time.perf_counter() - start) * 1000))

    def purge_requests(self):
        self.log.flush()
        return Path(self.log.name).read_text().count('"event":"purge"')

    def test_a_save_purges_exactly_the_pages_that_show_it(self):
        news = Category.objects.create(name="News", slug="news")
        sport = Category.objects.create(name="Sport", slug="sport")
        ann = Author.objects.create(name="Ann")
        p1 = Post.objects.create(title="First", category=news, author=ann)
        p2 = Post.objects.create(title="Second", category=news)
        p3 = Post.objects.create(title="Third", category=sport)
        self.assertTrue(edge_cache.flush(30))
        pages = {"home": "/", "about": "/about/", "news": "/categories/%d/" % news.pk,
                 "sport": "/categories/%d/" % sport.pk, "p1": "/posts/%d/" % p1.pk,
                 "p2": "/posts/%d/" % p2.pk, "p3": "/posts/%d/" % p3.pk}
        next_post = "/posts/%d/" % (p3.pk + 1)
        self.assertEqual(set(self.verdicts(pages).values()), {"MISS"})
        self.assertEqual(set(self.verdicts(pages).values()), {"HIT"})
        self.assertEqual((self.get(next_post).status, self.get(next_post).cache), (404, "HIT"))  # negative caching

        # Edit a post: its page and the lists that show it; not the other category, not /about/.
        p1.title = "First, edited"
        self.saved(p1.save)
        self.assertEqual(self.verdicts(pages), dict(
            home="MISS", about="HIT", news="MISS", sport="HIT", p1="MISS", p2="HIT", p3="HIT"))
        self.assertIn("First, edited", self.body(pages["p1"]))

        # Create a post: its URL was a cached 404 and must not stay one; its category's list and
        # the home page change; the other category and the other posts stay HIT.
        p4 = []
        self.saved(lambda: p4.append(Post.objects.create(title="Fourth", category=sport)))
        self.assertEqual(next_post, "/posts/%d/" % p4[0].pk)
        answer = self.get(next_post)
        self.assertEqual((answer.status, answer.cache), (200, "MISS"))
        pages["p4"] = next_post
        self.assertEqual(self.verdicts(pages), dict(
            home="MISS", about="HIT", news="HIT", sport="MISS", p1="HIT", p2="HIT", p3="HIT", p4="HIT"))

        # Rename a category: the pages that show its name (its posts, its page, the home page
        # listing them), not every page of the site and not the other category's posts.
        news.name = "World"
        self.saved(news.save)
        self.assertEqual(self.verdicts(pages), dict(
            home="MISS", about="HIT", news="MISS", sport="HIT", p1="MISS", p2="MISS", p3="HIT", p4="HIT"))

        # Ten saves in one transaction: one purge request.
        before = self.purge_requests()
        posts = [p1, p2, p3, p4[0]] * 3
        with transaction.atomic():
            for post in posts[:10]:
                post.save()
        self.assertTrue(edge_cache.flush(30))
        time.sleep(0.5)  # the worker writes its log line after answering
        self.assertEqual(self.purge_requests() - before, 1)

    def test_edge_include_is_assembled_by_the_worker(self):
        """{% edge_include %} through the worker (ESI on for pages in wrangler.toml's demo config):
        the page is cached and shared, signed-in visitors included; its private fragment is fetched
        per visitor; the latest-posts fragment is cached on its own and purged with its posts."""
        Post.objects.create(title="Fresh news", category=Category.objects.create(name="C", slug="c"))
        self.assertTrue(edge_cache.flush(30))
        page = "/with-fragments/?personal=1"
        self.assertEqual(self.get(page).cache, "MISS")
        body = self.body(page, {"Cookie": "sessionid=someone"})
        self.assertNotIn("<esi:", body)
        self.assertIn("Fresh news", body)   # the latest-posts fragment
        self.assertIn("Hello, you", body)   # the private fragment, fetched for this visitor
        self.assertEqual(probe.fetch(self.edge + page, headers={"Cookie": "sessionid=someone"}).cache, "HIT")
        # A save purges the fragment that lists the post, not the page around it.
        post = Post.objects.get(title="Fresh news")
        post.title = "Edited news"
        self.saved(post.save)
        self.assertIn("Edited news", self.body(page))
        self.assertEqual(self.get(page).cache, "HIT")

    def body(self, path, headers=None):
        request = urllib.request.Request(self.edge + path, headers=headers or {})
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.read().decode()
