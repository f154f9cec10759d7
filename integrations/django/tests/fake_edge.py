"""A stand-in for the worker on loopback: records purge requests, answers as scripted (status
codes, Retry-After, or hanging), answers explain, and serves pages with X-Cache verdicts."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote

TOKEN = "test-token-0123456789"


class FakeEdge:
    def __init__(self):
        self.purges = []  # JSON bodies of the purge requests, in order
        self.script = []  # statuses for the next purge requests (then 200); "hang" hangs
        self.retry_after = None
        self.hits = {}
        self.release = threading.Event()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.server.daemon_threads = True
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def settings(self, **extra):
        values = {"SITE_URL": self.url, "TOKEN": TOKEN, "ENABLED": True, "BACKEND": "inline", "BACKOFF": 0.01}
        values.update(extra)
        return values

    @property
    def tags(self):
        return [t for body in self.purges for t in body.get("tags", [])]

    @property
    def files(self):
        return [f for body in self.purges for f in body.get("files", [])]

    def stop(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def _handler(edge):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def _send(self, status, payload, headers=()):
            data = json.dumps(payload).encode() if not isinstance(payload, bytes) else payload
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
            edge.purges.append(body)
            status = edge.script.pop(0) if edge.script else 200
            if status == "hang":
                edge.release.wait(30)
                return
            if self.headers.get("Authorization") != "Bearer " + TOKEN:
                status = 401
            if status == 200:
                count = sum(len(body.get(k, [])) for k in ("tags", "files", "prefixes", "hosts"))
                return self._send(200, {"success": True, "errors": [], "messages": [],
                                        "result": {"id": "p%d" % len(edge.purges), "invalidated_tags": count}})
            headers = [("Retry-After", str(edge.retry_after))] if edge.retry_after is not None else []
            self._send(status, {"success": False, "errors": [{"code": status, "message": "scripted %d" % status}],
                                "messages": [], "result": None}, headers)

        def do_GET(self):
            if self.path.startswith("/__edge/explain"):
                return self._send(200, {"url": unquote(self.path.split("url=", 1)[1]), "key": {"cacheKey": "k1"},
                                        "rule": {"name": "html", "why": "first rule"}, "bypass": {"bypass": False},
                                        "entry": {"state": "fresh", "age": 3, "ttlLeft": 10, "purged": False,
                                                  "tags": ["blog.post.1", "*", "h:x"]}})
            path = self.path.split("?")[0]
            seen = edge.hits[path] = edge.hits.get(path, 0) + 1
            if path.startswith("/admin"):
                verdict = ("BYPASS", "edge-cache; fwd=bypass; detail=rule")
            elif path.startswith("/cookie"):
                verdict = ("MISS", "edge-cache; fwd=uri-miss; fwd-status=200; detail=set-cookie")
            elif path.startswith("/broken"):
                return self._send(502, b"bad gateway", [("X-Cache", "MISS")])
            elif seen == 1:
                verdict = ("MISS", "edge-cache; fwd=uri-miss; fwd-status=200; stored; ttl=1800; detail=html")
            else:
                verdict = ("HIT", "edge-cache; hit; ttl=1700; detail=html")
            self._send(200, b"<p>page</p>", [("X-Cache", verdict[0]), ("Cache-Status", verdict[1])])

    return Handler
