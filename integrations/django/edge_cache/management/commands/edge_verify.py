"""manage.py edge_verify [paths] [--file F] [--sitemaps] [--strict]

After a deploy: requests each URL twice through the edge; the second answer must be a HIT.
Pages that are uncacheable by design pass with the reason (a bypass such as /admin/, or an answer
the edge does not store: a cookie, private, no-store, a 404 when asked); --strict fails them too.
Exits 1 when a page that should be cached is not."""

from django.core.management.base import BaseCommand, CommandError

from ... import probe
from ._options import add_url_options, collect_urls


def verdict(first, second):
    """(ok, text) for two successive answers for one URL."""
    if first.error or second.error:
        return False, "no answer: %s" % (first.error or second.error)
    if second.status >= 500:
        return False, "HTTP %d" % second.status
    if not second.cache:
        return False, "no X-Cache header: not served through the edge"
    if second.cache == "HIT":
        return True, "HIT" + (" (already cached)" if first.cache == "HIT" else "")
    if second.cache == "BYPASS":
        return None, "uncacheable by design: bypass (%s)" % (second.detail or "rule")
    if not first.stored and not second.stored:
        return None, "uncacheable by design: not stored (%s)" % (second.detail or "origin headers")
    return False, "%s after a stored MISS (%s): purged or evicted in between?" % (second.cache, second.detail)


class Command(BaseCommand):
    help = "Verify the edge cache: each URL twice, the second must be a HIT (uncacheable pages are reported)."

    def add_arguments(self, parser):
        add_url_options(parser)
        parser.add_argument("--strict", action="store_true", help="fail pages that are uncacheable by design too")
        parser.add_argument("--timeout", type=float, default=30.0)

    def handle(self, *args, **options):
        failed, uncacheable = 0, 0
        for url, headers in collect_urls(options):
            first = probe.fetch(url, headers, options["timeout"])
            second = probe.fetch(url, headers, options["timeout"])
            ok, text = verdict(first, second)
            uncacheable += ok is None
            failed += ok is False or (ok is None and options["strict"])
            mark = {True: "ok  ", None: "skip", False: "FAIL"}[ok]
            lang = " [%s]" % headers["Accept-Language"] if headers else ""
            self.stdout.write("%s %s%s: %s (%d, %.0f ms then %.0f ms)" % (
                mark, url, lang, text, second.status, first.ms, second.ms))
        self.stdout.write("verified: %d failed, %d uncacheable by design" % (failed, uncacheable))
        if failed:
            raise CommandError("%d URL(s) failed verification" % failed)
