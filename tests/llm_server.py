"""A loopback OpenAI-compatible chat-completions server for tests and benchmarks.

Runs `http.server` on 127.0.0.1 at a free port in a background thread. A `responder(body) -> Reply`
programs the completions; `inject(...)` queues faults served before the responder is asked (429 with
Retry-After, 500, slow replies, malformed bodies, refusals). Every request is recorded with its arrival
time, so tests can check retries, cache hits and rate limits from the server's side.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    """What the server answers to one request."""

    content: str | None = None
    status: int = 200
    delay_s: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    refusal: str | None = None
    finish_reason: str = "stop"
    body: bytes | None = None  # sent verbatim instead of a completion (malformed bodies, error payloads)


@dataclass
class Recorded:
    """One request as the server saw it."""

    body: dict[str, Any]
    authorization: str | None
    arrived: float  # time.monotonic() in the server's (the test's) process
    status: int = 0


class _Server(ThreadingHTTPServer):
    request_queue_size = 256  # the default backlog of 5 refuses connections under concurrent clients


def _tokens(text: str) -> int:
    return max(1, len(text.split()) + sum(1 for ch in text if ord(ch) > 0x2E80))


class LLMServer:
    """Start with `with LLMServer(responder) as server:`; `server.url` is the base URL for the client."""

    def __init__(self, responder: Callable[[dict[str, Any]], Reply] | None = None) -> None:
        self.responder = responder or (lambda body: Reply(content="{}"))
        self.faults: deque[Reply] = deque()
        self.requests: list[Recorded] = []
        self.lock = threading.Lock()
        self.server = _Server(("127.0.0.1", 0), self._handler_class())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, name="llm-server", daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def inject(self, *replies: Reply) -> None:
        """Serve these replies, in order, to the next requests (before the responder)."""
        with self.lock:
            self.faults.extend(replies)

    def completions(self) -> list[Recorded]:
        """Requests answered with 200."""
        with self.lock:
            return [r for r in self.requests if r.status == 200]

    def __enter__(self) -> LLMServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    def _answer(self, body: dict[str, Any]) -> Reply:
        with self.lock:
            fault = self.faults.popleft() if self.faults else None
        return fault if fault is not None else self.responder(body)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as real endpoints do

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _send(self, status: int, payload: bytes, headers: dict[str, str]) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

            def do_GET(self) -> None:
                if self.path.endswith("/stats"):
                    # for benchmarks running the server in its own process: count and arrival window
                    with server.lock:
                        arrived = [r.arrived for r in server.requests]
                    stats = {"requests": len(arrived), "first": min(arrived, default=None), "last": max(arrived, default=None)}
                    self._send(200, json.dumps(stats).encode(), {})
                    return
                self._send(200, json.dumps({"object": "list", "data": [{"id": "loopback", "object": "model"}]}).encode(), {})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length) or b"{}")
                record = Recorded(body=body, authorization=self.headers.get("Authorization"), arrived=time.monotonic())
                with server.lock:
                    server.requests.append(record)
                if not self.path.endswith("/chat/completions"):
                    record.status = 404
                    self._send(404, b'{"error": {"message": "not found"}}', {})
                    return
                reply = server._answer(body)
                if reply.delay_s:
                    time.sleep(reply.delay_s)
                record.status = reply.status
                if reply.body is not None:
                    self._send(reply.status, reply.body, reply.headers)
                    return
                if reply.status != 200:
                    error = {"error": {"message": f"loopback fault {reply.status}", "type": "fault", "code": reply.status}}
                    self._send(reply.status, json.dumps(error).encode(), reply.headers)
                    return
                prompt = " ".join(str(m.get("content", "")) for m in body.get("messages", []))
                completion_text = reply.content or reply.refusal or ""
                payload = {
                    "id": f"chatcmpl-{len(server.requests)}",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": body.get("model", "loopback"),
                    "choices": [{
                        "index": 0,
                        "message": {"role": "assistant", "content": reply.content, "refusal": reply.refusal},
                        "finish_reason": reply.finish_reason,
                    }],
                    "usage": {"prompt_tokens": _tokens(prompt), "completion_tokens": _tokens(completion_text),
                              "total_tokens": _tokens(prompt) + _tokens(completion_text)},
                }
                self._send(200, json.dumps(payload, ensure_ascii=False).encode("utf-8"), reply.headers)

        return Handler


def main() -> None:
    """Serve the role-play author on a free port in this process; prints the base URL, runs until killed."""
    import argparse

    from tests.synthesis_author import author

    parser = argparse.ArgumentParser(description="Loopback OpenAI-compatible server answering CharacterDial's synthesis prompts.")
    parser.add_argument("--latency", type=float, default=0.0, help="Seconds per request.")
    args = parser.parse_args()
    with LLMServer(author(delay_s=args.latency)) as server:
        print(server.url, flush=True)
        server.thread.join()


if __name__ == "__main__":
    main()
