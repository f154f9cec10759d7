"""One purge per transaction: purges requested inside atomic() are collected and sent once, on
commit; a rollback sends nothing.

Each purge() inside a transaction registers its own on_commit callback, so Django's savepoint
bookkeeping decides which ones survive (a rolled-back savepoint drops its callbacks, a rollback
drops them all). The callbacks of one transaction share a batch, and the first one to run after
the commit sends the items of every entry still alive; the others find nothing left to do. The
batch holds its entries weakly: an entry whose callback Django dropped is garbage at once, so it
is not sent (on an interpreter without reference counting it would be: an over-purge, which
costs a cache miss, never a stale page).

Callbacks run inside an atomic block were not started by a commit but by hand, e.g. by
TestCase.captureOnCommitCallbacks(execute=True), which runs the callbacks registered since it
began, in order: then the batch sends the entry being run and those registered after it.
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
        self.refs = []  # weak references to the entries, in registration order
        self.prune_at = 64
        self.closed = False

    def add(self, entry):
        if len(self.refs) >= self.prune_at:  # amortised: drop entries of rolled-back work
            self.refs = [ref for ref in self.refs if ref() is not None]
            self.prune_at = 2 * len(self.refs) + 64
        self.refs.append(weakref.ref(entry))

    def flush(self, entry):
        if entry.done:
            return
        alive = [e for e in (ref() for ref in self.refs) if e is not None and not e.done]
        if transaction.get_connection(self.alias).in_atomic_block:
            alive = alive[alive.index(entry):]
        else:  # a real commit: the transaction is over
            self.closed = True
            if getattr(_local, "batches", {}).get(self.alias) is self:
                del _local.batches[self.alias]
        for e in alive:
            e.done = True
        sender.dispatch_all([e.items for e in alive])


class _Entry:
    """The on_commit callback of one purge() call."""

    __slots__ = ("items", "batch", "done", "__weakref__")

    def __init__(self, items, batch):
        self.items = items
        self.batch = batch
        self.done = False

    def __call__(self):
        self.batch.flush(self)


def purge(items, using=None):
    """Purge `items` (a PurgeSet) after the current transaction on `using` commits, or now when
    no transaction is open. Everything purged in one transaction goes out as one batch."""
    if not items:
        return
    alias = using or DEFAULT_DB_ALIAS
    if not transaction.get_connection(alias).in_atomic_block:
        sender.dispatch_all([items])
        return
    slots = _local.__dict__.setdefault("batches", {})
    batch = slots.get(alias)
    if batch is None or batch.closed:
        batch = slots[alias] = _Batch(alias)
    entry = _Entry(items, batch)
    batch.add(entry)
    transaction.on_commit(entry, using=alias)


def purge_items(tags=(), urls=(), prefixes=(), hosts=(), everything=False, soft=None, using=None):
    """purge() for plain lists: tags as given (see tags.tag), URLs or paths (made absolute with
    SITE_URL), prefixes ("www.example.com/blog/"), hosts, or everything."""
    settings = conf.get()
    files = [u for url in urls for u in settings.absolute_urls(url)]
    soft = settings.SOFT if soft is None else soft
    purge(PurgeSet(tags, files, prefixes, hosts, everything, soft), using=using)
