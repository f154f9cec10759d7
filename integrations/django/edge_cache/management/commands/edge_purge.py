"""manage.py edge_purge [--tag T] [--url U] [--prefix P] [--host H] [--everything]
                        [--model app.Model [--pk 1 2 ...]] [--soft]

Purges now (inline, not queued) and prints the worker's answers."""

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError

from ... import client, conf, registry
from ...purgeset import PurgeSet
from ...tags import tag


class Command(BaseCommand):
    help = "Purge the edge cache by tag, URL, prefix, host, model objects, or everything."

    def add_arguments(self, parser):
        parser.add_argument("--tag", action="append", default=[], help="a cache tag (repeatable)")
        parser.add_argument("--url", action="append", default=[], help="a path or absolute URL (repeatable)")
        parser.add_argument("--prefix", action="append", default=[], help="host/path/ prefix (repeatable)")
        parser.add_argument("--host", action="append", default=[], help="a host name (repeatable)")
        parser.add_argument("--everything", action="store_true")
        parser.add_argument("--model", help="app_label.Model: its list tag, or with --pk what register() purges")
        parser.add_argument("--pk", nargs="+", default=[], help="primary keys of --model objects")
        parser.add_argument("--soft", action="store_true", help="soft purge: entries revalidated, not dropped")

    def handle(self, *args, **options):
        settings = conf.get()
        if not settings.site_urls or not settings.TOKEN:
            raise CommandError("set EDGE_CACHE SITE_URL and TOKEN")
        items = self.items(options, settings)
        if not items:
            raise CommandError("nothing to purge: give --tag, --url, --prefix, --host, --model or --everything")
        for body in items.bodies():
            try:
                result = client.send(body, settings)
            except client.PurgeError as error:
                raise CommandError(str(error))
            self.stdout.write("purged %s: id %s, %s invalidated tag(s)" % (
                ", ".join("%d %s" % (len(v), k) for k, v in body.items() if isinstance(v, list)) or "everything",
                result.get("id"), result.get("invalidated_tags")))

    def items(self, options, settings):
        files = [u for url in options["url"] for u in settings.absolute_urls(url)]
        items = PurgeSet(options["tag"], files, options["prefix"], options["host"], options["everything"],
                         options["soft"] or settings.SOFT)
        if options["model"]:
            try:
                model = apps.get_model(options["model"])
            except (LookupError, ValueError) as error:
                raise CommandError(str(error))
            if not options["pk"]:
                items.update(PurgeSet(tags=[tag(model)]))
            for obj in model._default_manager.filter(pk__in=options["pk"]):
                items.update(registry.changes(obj))
        return items
