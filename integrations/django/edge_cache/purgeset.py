"""What one purge names: tags, URLs, prefixes, hosts or everything, merged and split to the API's
limit of 100 items per request."""

MAX_ITEMS = 100
KINDS = ("tags", "files", "prefixes", "hosts")


class PurgeSet:
    """An ordered, de-duplicated set of purge items. Merging two is a union; `everything`
    subsumes the rest. Soft and hard purges are never merged into one body."""

    def __init__(self, tags=(), files=(), prefixes=(), hosts=(), everything=False, soft=False):
        for name, values in (("tags", tags), ("files", files), ("prefixes", prefixes), ("hosts", hosts)):
            if isinstance(values, (str, bytes)):
                raise TypeError("%s must be a list, not a string" % name)
        self.tags = dict.fromkeys(str(t).lower() for t in tags)
        self.files = dict.fromkeys(files)
        self.prefixes = dict.fromkeys(prefixes)
        self.hosts = dict.fromkeys(hosts)
        self.everything = bool(everything)
        self.soft = bool(soft)

    def __bool__(self):
        return self.everything or any(getattr(self, k) for k in KINDS)

    def __len__(self):
        return sum(len(getattr(self, k)) for k in KINDS)

    def __repr__(self):
        return "PurgeSet(%r)" % (self.to_dict(),)

    def update(self, other):
        for kind in KINDS:
            getattr(self, kind).update(getattr(other, kind))
        self.everything = self.everything or other.everything
        return self

    def to_dict(self):
        """A JSON-able form (outbox rows, Celery task arguments)."""
        out = {kind: list(getattr(self, kind)) for kind in KINDS if getattr(self, kind)}
        if self.everything:
            out["everything"] = True
        if self.soft:
            out["soft"] = True
        return out

    @classmethod
    def from_dict(cls, data):
        return cls(**{k: v for k, v in data.items() if k in KINDS + ("everything", "soft")})

    def bodies(self, limit=MAX_ITEMS):
        """Request bodies in the API's shape, at most `limit` items each."""
        extra = {"soft": True} if self.soft else {}
        if self.everything:
            return [dict({"purge_everything": True}, **extra)]
        items = [(kind, value) for kind in KINDS for value in getattr(self, kind)]
        bodies = []
        for start in range(0, len(items), limit):
            body = dict(extra)
            for kind, value in items[start:start + limit]:
                body.setdefault(kind, []).append(value)
            bodies.append(body)
        return bodies


def merge(sets):
    """Merge a sequence of PurgeSets into as few as possible (one per soft/hard kind)."""
    by_kind = {}
    for item in sets:
        if item.soft in by_kind:
            by_kind[item.soft].update(item)
        else:
            by_kind[item.soft] = PurgeSet(soft=item.soft).update(item)
    return [by_kind[k] for k in sorted(by_kind)]
