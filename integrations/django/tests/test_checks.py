from django.core import checks
from django.test import SimpleTestCase, override_settings

from edge_cache import checks as edge_checks

from .settings import MIDDLEWARE


def ids(*functions):
    return sorted(m.id for f in functions for m in f())


class CheckTests(SimpleTestCase):
    def test_the_test_settings_are_clean(self):
        self.assertEqual([m for m in checks.run_checks() if m.id.startswith("edge_cache")], [])

    @override_settings(EDGE_CACHE={"SITE_URL": "ftp://x", "TOKEN": "short", "TYPO": 1, "BACKEND": "rq"})
    def test_bad_values(self):
        self.assertEqual(ids(edge_checks.check_settings),
                         ["edge_cache.E001", "edge_cache.E002", "edge_cache.E003", "edge_cache.E005"])

    @override_settings(EDGE_CACHE={"SITE_URL": "https://www.example.com"})
    def test_missing_token_turns_purging_off_with_a_warning(self):
        self.assertEqual(ids(edge_checks.check_settings), ["edge_cache.W002"])

    @override_settings(EDGE_CACHE={"ENABLED": True})
    def test_enabled_without_url_or_token(self):
        self.assertEqual(ids(edge_checks.check_settings), ["edge_cache.E004"])

    @override_settings(EDGE_CACHE={"SITE_URL": "http://www.example.com", "TOKEN": "x" * 16})
    def test_token_in_clear(self):
        self.assertEqual(ids(edge_checks.check_settings), ["edge_cache.W001"])

    def test_middleware(self):
        with override_settings(MIDDLEWARE=[m for m in MIDDLEWARE if "edge_cache" not in m]):
            self.assertEqual(ids(edge_checks.check_middleware), ["edge_cache.W003"])
        late = MIDDLEWARE[:1] + MIDDLEWARE[2:] + [MIDDLEWARE[1]]
        with override_settings(MIDDLEWARE=late):
            self.assertEqual(ids(edge_checks.check_middleware), ["edge_cache.W004"])
        site_cache = ["django.middleware.cache.UpdateCacheMiddleware"] + MIDDLEWARE
        with override_settings(MIDDLEWARE=site_cache):
            self.assertEqual(ids(edge_checks.check_middleware), ["edge_cache.W005"])

    def test_risky_settings(self):
        with override_settings(MESSAGE_STORAGE="django.contrib.messages.storage.fallback.FallbackStorage",
                               USE_X_FORWARDED_HOST=False):
            self.assertEqual(ids(edge_checks.check_risky_settings), ["edge_cache.I001", "edge_cache.W006"])

    def test_off_under_the_test_runner_unless_enabled(self):
        from edge_cache import conf

        self.assertFalse(conf.get().enabled)
        with override_settings(EDGE_CACHE={"SITE_URL": "https://x.example", "TOKEN": "x" * 16, "ENABLED": True}):
            self.assertTrue(conf.get().enabled)
