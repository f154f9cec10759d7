"""manage.py edge_explain URL [--cookie "a=1; b=2"] [--language fr] [--json]

Asks the worker's explain endpoint what it does with URL: key, rule, bypass, the stored entry."""

import json

from django.core.management.base import BaseCommand, CommandError

from ... import client, conf


class Command(BaseCommand):
    help = "Explain how the edge caches a URL (its key, rule, bypass reason and stored entry)."

    def add_arguments(self, parser):
        parser.add_argument("url", help="a path (/blog/) or an absolute URL")
        parser.add_argument("--cookie", help="evaluate with this Cookie header")
        parser.add_argument("--language", help="evaluate with this Accept-Language")
        parser.add_argument("--json", action="store_true", help="print the whole answer")

    def handle(self, *args, url, **options):
        settings = conf.get()
        if not settings.site_urls or not settings.explain_token:
            raise CommandError("set EDGE_CACHE SITE_URL and TOKEN (or EXPLAIN_TOKEN)")
        headers = {}
        if options["cookie"]:
            headers["Cookie"] = options["cookie"]
        if options["language"]:
            headers["Accept-Language"] = options["language"]
        try:
            answer = client.explain(url, headers, settings)
        except client.PurgeError as error:
            raise CommandError(str(error))
        if options["json"]:
            self.stdout.write(json.dumps(answer, indent=2))
            return
        for line in summary(answer):
            self.stdout.write(line)


def summary(answer):
    key, rule, bypass = answer.get("key") or {}, answer.get("rule") or {}, answer.get("bypass") or {}
    entry = answer.get("entry") or {}
    lines = [
        "url:     %s" % answer.get("url"),
        "key:     %s" % key.get("cacheKey"),
        "rule:    %s (%s)" % (rule.get("name"), rule.get("why")),
        "bypass:  %s" % ("yes: %s" % bypass.get("why") if bypass.get("bypass") else "no"),
    ]
    if "none" in entry or not entry:
        lines.append("entry:   none stored (%s)" % entry.get("none", "-"))
    else:
        lines.append("entry:   %s, age %s s, %s s left, purged: %s" % (
            entry.get("state"), entry.get("age"), entry.get("ttlLeft"), entry.get("purged")))
        lines.append("tags:    %s" % ", ".join(t for t in entry.get("tags") or () if ":" not in t and t != "*"))
    return lines
