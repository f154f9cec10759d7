"""What edge_warm and edge_verify share: where the URLs come from, and the edge's base URL."""

from django.core.management.base import CommandError

from ... import conf, probe


def add_url_options(parser):
    parser.add_argument("urls", nargs="*", help="paths (/blog/) or absolute URLs")
    parser.add_argument("--file", help="a file with one path or URL per line (# comments)")
    parser.add_argument("--sitemaps", action="store_true", help="every location of the project's sitemaps")
    parser.add_argument("--languages", default="", help="comma-separated: each URL once per Accept-Language")
    parser.add_argument("--site-url", help="the edge's base URL (default: EDGE_CACHE SITE_URL)")


def collect_urls(options):
    """(url, headers) pairs from the positional URLs, --file and --sitemaps, each language."""
    settings = conf.get()
    if options.get("site_url"):
        settings.SITE_URL = options["site_url"]
    paths = list(options.get("urls") or [])
    if options.get("file"):
        with open(options["file"], encoding="utf-8") as lines:
            paths.extend(line.strip() for line in lines if line.strip() and not line.startswith("#"))
    if options.get("sitemaps"):
        paths.extend(probe.sitemap_paths())
    if not paths:
        raise CommandError("no URLs: give paths, --file or --sitemaps")
    if not settings.site_urls and any(p.startswith("/") for p in paths):
        raise CommandError("paths need a base URL: set EDGE_CACHE SITE_URL or pass --site-url")
    languages = [l.strip() for l in options.get("languages", "").split(",") if l.strip()] or [None]
    urls = [u for p in dict.fromkeys(paths) for u in settings.absolute_urls(p)[:1]]
    return [(u, {"Accept-Language": lang} if lang else {}) for u in urls for lang in languages]
