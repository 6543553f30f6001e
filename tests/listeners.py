"""Plain loopback HTTP listeners that count the connections they accept, for the outbound tests:
one that must receive nothing, one that redirects, one that answers like a provider, one that
answers with a hostile error (a huge body echoing the request's headers and a secret-looking
token). Each is a socketserver on 127.0.0.1 (or ::1), on a free port, in a thread of its own."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

COMPLETION = {
    "id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": "m",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "OK"}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
}  # fmt: skip
TOKEN = "tok9f8e7d6c5b4a39281706f5e4d3c2b1a0SECRET"  # secret-looking, in every hostile answer

Answer = tuple[int, dict[str, str], bytes]


def answer_ok(handler: BaseHTTPRequestHandler, body: bytes) -> Answer:
    return 200, {"content-type": "application/json"}, json.dumps(COMPLETION).encode()


def redirect_to(location: str) -> Callable[[BaseHTTPRequestHandler, bytes], Answer]:
    def answer(handler: BaseHTTPRequestHandler, body: bytes) -> Answer:
        return 307, {"location": location.rstrip("/") + handler.path.removeprefix("/v1")}, b""

    return answer


def hostile(status: int, as_json: bool = True) -> Callable[[BaseHTTPRequestHandler, bytes], Answer]:
    """An error whose body is a megabyte: the request's headers echoed (the API key among them),
    a session cookie, a secret-looking token, and padding; its response headers carry secrets too."""

    def answer(handler: BaseHTTPRequestHandler, body: bytes) -> Answer:
        echoed = "".join(f"{k}: {v}\n" for k, v in handler.headers.items())
        text = f"upstream said no\n{echoed}Set-Cookie: session=s3cr3tcookie; HttpOnly\nX-Internal-Token: {TOKEN}\n{TOKEN}\n" + "A" * 1_000_000
        headers = {"x-internal-token": TOKEN, "set-cookie": "session=s3cr3tcookie"}
        if as_json:
            return status, {**headers, "content-type": "application/json"}, json.dumps({"error": {"message": text, "type": "server_error"}}).encode()
        return status, {**headers, "content-type": "text/plain"}, text.encode()

    return answer


class _Handler(BaseHTTPRequestHandler):
    server: Listener

    def log_message(self, *args: object) -> None:
        pass

    def _answer(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        status, headers, data = self.server.answer(self, body)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        try:
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # a client that read only what it needed
            pass

    do_GET = do_POST = do_DELETE = _answer


class Listener(ThreadingHTTPServer):
    """Counts every connection it accepts, before reading a byte of it."""

    daemon_threads = True

    def __init__(self, answer: Callable[[BaseHTTPRequestHandler, bytes], Answer] = answer_ok, *, ipv6: bool = False) -> None:
        self.address_family = socket.AF_INET6 if ipv6 else socket.AF_INET
        self.answer = answer
        self.connections = 0
        self.requests: list[str] = []
        super().__init__(("::1" if ipv6 else "127.0.0.1", 0), _Handler)
        self.port = self.server_address[1]
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)
        self._thread.start()

    def verify_request(self, request: object, client_address: object) -> bool:
        self.connections += 1
        return True

    def url(self, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}/v1"

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
