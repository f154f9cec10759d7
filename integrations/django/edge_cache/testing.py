"""Assert on purges in your own tests (Django's runner keeps purging off unless ENABLED is set).

    from edge_cache.testing import capture_purges

    with capture_purges() as purges, self.captureOnCommitCallbacks(execute=True):
        post.save()
    self.assertIn(edge_cache.tag(post), purges.tags)
"""

from contextlib import contextmanager

from . import sender


class Captured(list):
    """The PurgeSets dispatched (one per committed batch), with every item flattened."""

    @property
    def tags(self):
        return [t for s in self for t in s.tags]

    @property
    def files(self):
        return [f for s in self for f in s.files]


@contextmanager
def capture_purges():
    captured = Captured()
    sender._captures.append(captured)
    try:
        yield captured
    finally:
        sender._captures.remove(captured)
