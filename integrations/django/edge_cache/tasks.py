"""The Celery task (BACKEND "celery", or "auto" with Celery installed): retried on the Celery
worker with backoff; the outbox row, if any, is settled by the task."""

import logging

from celery import shared_task

from . import client, conf, outbox, sender
from .purgeset import PurgeSet

logger = logging.getLogger("edge_cache")


@shared_task(bind=True, name="edge_cache.send_purge", max_retries=5, acks_late=True)
def send_purge(self, items, outbox_ids=()):
    settings = conf.get()
    purge = PurgeSet.from_dict(items)
    try:
        for body in purge.bodies():
            client.send(body, settings)
    except client.PurgeError as error:
        if error.retryable and self.request.retries < self.max_retries:
            raise self.retry(exc=error, countdown=min(300, 5 * 2 ** self.request.retries))
        sender.stats["failed"] += 1
        logger.error("edge-cache purge failed after %d tries: %s: %r", self.request.retries + 1, error, purge)
        outbox.failed(list(outbox_ids), error)
        return False
    sender.stats["sent"] += 1
    outbox.sent(list(outbox_ids))
    return True
