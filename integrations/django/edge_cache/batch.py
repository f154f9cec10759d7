"""One purge per transaction: purges requested inside atomic() are collected and sent once, on
commit; a rollback sends nothing.

Each purge() inside a transaction registers its own on_commit callback, so Django's savepoint
bookkeeping decides which ones survive (a rolled-back savepoint drops its callbacks, a rollback
drops them all). The callbacks of one transaction share a batch; the first one to run after the
commit sends the union of the batch's surviving entries and the others find nothing left to do.
The batch holds its entries weakly: an entry whose callback Django dropped is garbage at once,
so it is not sent (on an interpreter without reference counting it would be: an over-purge,
which costs a cache miss, never a stale page).
"""

import threading
import weakref

from django.db import DEFAULT_DB_ALIAS, transaction

from . import conf, sender
from .purgeset import PurgeSet

_local = threading.local()


class _Batch:
    def __init__(self, alias):
        self.alias = alias
        self.entries = weakref.WeakSet()
        self.sent = False

    def flush(self):
        if self.sent:
            return
        self.sent = True
        slots = getattr(_local, "batches", {})
        if slots.get(self.alias) is self:
            del slots[self.alias]
        sender.dispatch_all([entry.items for entry in list(self.entries)])


class _Entry:
    """The on_commit callback of one purge() call."""

    __slots__ = ("items", "batch", "__weakref__")

    def __init__(self, items, batch):
        self.items = items
        self.batch = batch

    def __call__(self):
        self.batch.flush()


def purge(items, using=None):
    """Purge `items` (a PurgeSet) after the current transaction on `using` commits, or now when
    no transaction is open. Everything purged in one transaction goes out as one batch."""
    if not items:
        return
    alias = using or DEFAULT_DB_ALIAS
    connection = transaction.get_connection(alias)
    if not connection.in_atomic_block:
        sender.dispatch_all([items])
        return
    slots = _local.__dict__.setdefault("batches", {})
    batch = slots.get(alias)
    if batch is None or batch.sent:
        batch = slots[alias] = _Batch(alias)
    entry = _Entry(items, batch)
    batch.entries.add(entry)
    transaction.on_commit(entry, using=alias)


def purge_items(tags=(), urls=(), prefixes=(), hosts=(), everything=False, soft=None, using=None):
    """purge() for plain lists: tags as given (see tags.tag), URLs or paths (made absolute with
    SITE_URL), prefixes ("www.example.com/blog/"), hosts, or everything."""
    settings = conf.get()
    files = [u for url in urls for u in settings.absolute_urls(url)]
    soft = settings.SOFT if soft is None else soft
    purge(PurgeSet(tags, files, prefixes, hosts, everything, soft), using=using)
