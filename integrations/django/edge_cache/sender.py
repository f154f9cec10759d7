"""Where committed purges go: never onto the request's own path.

dispatch_all() runs on the request's thread right after a commit. It records the batch in the
outbox (when OUTBOX is on) and hands it to a background thread, which sends it with retries
(BACKEND "thread") or passes it on to Celery ("celery"; from the thread, so a broker that hangs
cannot hold the request either). "inline" sends on the caller's thread: for management
commands, scripts and tests. Batches that wait in the queue together are merged into as few
requests as the API's 100-item limit allows.
"""

import atexit
import logging
import os
import queue
import threading
import time

from . import client, conf, outbox
from .purgeset import merge

logger = logging.getLogger("edge_cache")
stats = {"batches": 0, "sent": 0, "failed": 0}
_captures = []


def dispatch_all(sets):
    """Send the PurgeSets of one commit (merged; soft and hard apart)."""
    sets = [s for s in merge([s for s in sets if s]) if s]
    if not sets:
        return
    for capture in _captures:
        capture.extend(sets)
    settings = conf.get()
    if not settings.enabled:
        logger.debug("edge-cache purge not sent (purging is off): %r", sets)
        return
    for items in sets:
        ids = [i for i in [outbox.record(items, settings)] if i is not None]
        stats["batches"] += 1
        if settings.backend == "inline":
            deliver(items, ids, settings)
        elif not _worker.submit((items, ids), settings):
            logger.error("edge-cache purge queue full (%d): %r %s", settings.QUEUE_SIZE, items,
                         "kept in the outbox" if ids else "dropped")


def deliver(items, ids, settings=None):
    """Send one PurgeSet now (batched to the API's limit); True when every request succeeded."""
    settings = settings or conf.get()
    try:
        results = [client.send(body, settings) for body in items.bodies()]
    except client.PurgeError as error:
        stats["failed"] += 1
        logger.error("edge-cache purge failed: %s; pages may stay stale until their TTL%s: %r", error,
                     " (kept in the outbox: manage.py edge_outbox --retry)" if ids else "", items)
        outbox.failed(ids, error)
        return False
    stats["sent"] += 1
    logger.info("edge-cache purged %d item(s) in %d request(s): %s", len(items) or 1, len(results),
                ", ".join(str(r.get("id")) for r in results))
    outbox.sent(ids)
    return True


def _deliver_jobs(jobs, settings):
    by_soft = {}
    for items, ids in jobs:
        group = by_soft.setdefault(items.soft, ([], []))
        group[0].append(items)
        group[1].extend(ids)
    for group_sets, ids in by_soft.values():
        items = merge(group_sets)[0]
        if settings.backend == "celery":
            from .tasks import send_purge

            send_purge.apply_async(args=(items.to_dict(), ids))
        else:
            deliver(items, ids, settings)


class _Worker:
    """One daemon thread per process, started on first use (and again after a fork)."""

    def __init__(self):
        self.pid = None
        self.queue = None
        self.lock = threading.Lock()

    def submit(self, job, settings):
        with self.lock:
            if self.pid != os.getpid():
                self.pid, self.queue = os.getpid(), queue.Queue()
                threading.Thread(target=self._run, args=(self.queue,), name="edge-cache-purge", daemon=True).start()
        if self.queue.qsize() >= settings.QUEUE_SIZE:
            return False
        self.queue.put(job)
        return True

    def _run(self, jobs):
        from django.db import connections

        while True:
            batch = [jobs.get()]
            while True:
                try:
                    batch.append(jobs.get_nowait())
                except queue.Empty:
                    break
            try:
                _deliver_jobs(batch, conf.get())
            except Exception:  # the thread must outlive any one batch
                logger.exception("edge-cache purge thread: unexpected error")
            finally:
                connections.close_all()
                for _ in batch:
                    jobs.task_done()

    def flush(self, timeout):
        jobs = self.queue
        if jobs is None or self.pid != os.getpid():
            return True
        deadline = time.monotonic() + timeout
        with jobs.all_tasks_done:
            while jobs.unfinished_tasks:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                jobs.all_tasks_done.wait(left)
        return True


_worker = _Worker()


def flush(timeout=10.0):
    """Wait until every queued purge has been handled (sent or given up); False on timeout."""
    return _worker.flush(timeout)


@atexit.register
def _at_exit():
    settings = conf.get() if _worker.queue is not None else None
    if settings is not None and not flush(settings.EXIT_TIMEOUT):
        logger.error("edge-cache: exiting with purges still queued (the outbox keeps them if OUTBOX is on)")
