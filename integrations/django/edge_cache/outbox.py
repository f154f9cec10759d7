"""Outbox bookkeeping: a batch is written before it is handed to the sender and deleted once the
edge accepted it, so a batch survives an edge that is down, a full queue, or a process that dies
before sending. `manage.py edge_outbox --retry` (from cron) sends what is left.

Every function here logs and carries on when the database fails: losing the outbox row of a
purge must never fail the request that committed the data.
"""

import json
import logging
from datetime import timedelta

from django.db import DatabaseError
from django.utils import timezone

logger = logging.getLogger("edge_cache")


def _model():
    from .models import PurgeOutbox

    return PurgeOutbox


def record(items, settings):
    """Write a pending row for `items`; its id, or None (outbox off, or the write failed)."""
    if not settings.OUTBOX:
        return None
    try:
        return _model().objects.create(payload=json.dumps(items.to_dict())).pk
    except DatabaseError:
        logger.exception("edge-cache outbox: could not record %r (is edge_cache migrated?)", items)
        return None


def sent(ids):
    if ids:
        _safely(lambda: _model().objects.filter(pk__in=ids).delete())


def failed(ids, error):
    if not ids:
        return
    from django.db.models import F

    status = _model().PENDING if getattr(error, "retryable", True) else _model().FAILED
    _safely(lambda: _model().objects.filter(pk__in=ids).update(
        attempts=F("attempts") + 1, status=status, last_error=str(error)[:2000], updated=timezone.now()))


def _safely(operation):
    try:
        operation()
    except DatabaseError:
        logger.exception("edge-cache outbox: update failed")


def due(older_than=60, include_failed=False):
    """Rows to retry: pending (and failed, when asked) rows older than `older_than` seconds, so a
    retry does not race the thread that is still sending a fresh one."""
    model = _model()
    statuses = [model.PENDING, model.FAILED] if include_failed else [model.PENDING]
    cutoff = timezone.now() - timedelta(seconds=older_than)
    return model.objects.filter(status__in=statuses, created__lte=cutoff).order_by("id")


def retry(rows, settings):
    """Send `rows` inline, merged; returns (rows sent, rows still pending)."""
    from . import sender
    from .purgeset import PurgeSet, merge

    rows = list(rows)
    by_soft = {}
    for row in rows:
        items = PurgeSet.from_dict(json.loads(row.payload))
        by_soft.setdefault(items.soft, ([], []))[0].append(items)
        by_soft[items.soft][1].append(row.pk)
    done = 0
    for group, ids in by_soft.values():
        if sender.deliver(merge(group)[0], ids, settings):
            done += len(ids)
    return done, len(rows) - done
