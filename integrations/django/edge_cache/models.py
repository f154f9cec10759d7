"""The durable outbox (EDGE_CACHE["OUTBOX"] = True): a row per batch until the edge accepted it."""

from django.db import models


class PurgeOutbox(models.Model):
    PENDING, FAILED = "pending", "failed"

    created = models.DateTimeField(auto_now_add=True, db_index=True)
    # PurgeSet.to_dict() as JSON (a TextField: JSON1 is not on every SQLite).
    payload = models.TextField()
    status = models.CharField(max_length=16, default=PENDING, db_index=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        verbose_name = "edge cache purge"

    def __str__(self):
        return "purge #%s (%s)" % (self.pk, self.status)
