"""A small webhook receiver on 127.0.0.1 that checks every delivery as docs/api.md tells receivers
to: the tests and the benchmark send real HTTP to it. Answers come from a script (`answers`: the
status of each request in turn, then 200), or 401 for a signature that does not verify."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from . import signing


class Receiver:
    def __init__(self, *, secret_for: Callable[[], str], answers: list[int] | None = None, keep: bool = True):
        self.secret_for = secret_for
        self.answers = list(answers or [])
        self.keep = keep
        self.requests: list[dict] = []  # headers, body and verdict of each, when `keep`
        self.count = self.verified = self.items = self.bytes = 0
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hooks"

    def __enter__(self) -> Receiver:
        threading.Thread(target=self._server.serve_forever, name="webhook-receiver", daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    def receive(self, headers, body: bytes) -> int:
        try:
            signing.verify(secret=self.secret_for(), header=headers.get(signing.HEADER, ""), body=body, now=time.time())
            verdict = ""
        except signing.SignatureError as error:
            verdict = str(error)
        with self._lock:
            self.count += 1
            self.bytes += len(body)
            status = self.answers.pop(0) if self.answers else 200
            if verdict:
                status = 401
            else:
                self.verified += 1
                if 200 <= status < 300:
                    self.items += len(json.loads(body)["data"])
            if self.keep:
                self.requests.append(
                    {"headers": dict(headers), "body": body, "status": status, "refused": verdict, "at": time.time()}
                )
        return status

    def _handler(self):
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - the standard library's name
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                status = receiver.receive(self.headers, body)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):  # quiet
                pass

        return Handler
