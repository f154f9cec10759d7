"""manage.py edge_outbox [--retry] [--failed] [--older-than SECONDS]

The durable outbox (EDGE_CACHE["OUTBOX"] = True): lists the purges not yet accepted by the edge,
and with --retry sends them (run it from cron, e.g. every 5 minutes). --failed includes the ones
the edge refused (400/401/403/404) after you fixed the cause."""

from django.core.management.base import BaseCommand, CommandError

from ... import conf, outbox


class Command(BaseCommand):
    help = "List or retry edge-cache purges kept in the outbox."

    def add_arguments(self, parser):
        parser.add_argument("--retry", action="store_true", help="send them now")
        parser.add_argument("--failed", action="store_true", help="include purges the edge refused")
        parser.add_argument("--older-than", type=float, default=60.0,
                            help="only rows older than this many seconds (default 60: not the ones being sent)")

    def handle(self, *args, **options):
        rows = list(outbox.due(options["older_than"], include_failed=options["failed"]))
        for row in rows:
            self.stdout.write("#%d %s %s, %d attempt(s)%s" % (
                row.pk, row.status, row.created.isoformat(timespec="seconds"), row.attempts,
                ": " + row.last_error[:120] if row.last_error else ""))
        if not options["retry"]:
            self.stdout.write("%d purge(s) waiting" % len(rows))
            return
        settings = conf.get()
        if not (settings.site_urls and settings.TOKEN):
            raise CommandError("set EDGE_CACHE SITE_URL and TOKEN")
        sent, left = outbox.retry(rows, settings)
        self.stdout.write("%d purge(s) sent, %d still waiting" % (sent, left))
        if left:
            raise CommandError("%d purge(s) could not be sent" % left)
