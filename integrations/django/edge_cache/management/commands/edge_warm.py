"""manage.py edge_warm [paths] [--file F] [--sitemaps] [--languages en,fr] [--concurrency N]

Requests each URL through the edge so that the first visitor after a deploy or a purge gets a
HIT. Prints progress, then a summary; exits 1 if any request failed (no answer or a 5xx)."""

import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from django.core.management.base import BaseCommand, CommandError

from ... import probe
from ._options import add_url_options, collect_urls


class Command(BaseCommand):
    help = "Warm the edge cache: request pages through the worker (from sitemaps or a URL list)."

    def add_arguments(self, parser):
        add_url_options(parser)
        parser.add_argument("--concurrency", type=int, default=4)
        parser.add_argument("--timeout", type=float, default=30.0)

    def handle(self, *args, **options):
        targets = collect_urls(options)
        counts, failures, start = Counter(), [], time.monotonic()
        step = max(1, len(targets) // 10)
        with ThreadPoolExecutor(max_workers=max(1, options["concurrency"])) as pool:
            jobs = pool.map(lambda t: probe.fetch(t[0], t[1], options["timeout"]), targets)
            for done, result in enumerate(jobs, 1):
                if result.error or result.status >= 500:
                    failures.append(result)
                    counts["failed"] += 1
                else:
                    counts[result.cache or "not via edge"] += 1
                if done % step == 0 or done == len(targets):
                    self.stdout.write("  %d/%d (%d%%) %s" % (done, len(targets), 100 * done // len(targets), _fmt(counts)))
        elapsed = time.monotonic() - start
        for failure in failures:
            self.stderr.write("  failed %s: %s" % (failure.url, failure.error or "HTTP %d" % failure.status))
        self.stdout.write("warmed %d URL(s) in %.1f s (%.1f/s): %s" % (
            len(targets), elapsed, len(targets) / elapsed if elapsed else 0, _fmt(counts)))
        if failures:
            raise CommandError("%d URL(s) failed" % len(failures))


def _fmt(counts):
    return ", ".join("%s %d" % (k, v) for k, v in sorted(counts.items())) or "-"
