"""A fake OpenAI-Images-compatible provider on loopback (stdlib HTTP server in a thread), so the
real provider runner talks real HTTP: it answers `POST /v1/images/generations` with `n` PNGs of
the requested size as `b64_json`, and records the requests it got. Clearing `gate` holds every
answer (the job stays running) until it is set again."""

from __future__ import annotations

import base64
import io
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from PIL import Image


class FakeImagesProvider:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.gate = threading.Event()
        self.gate.set()
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length) or b"{}")
                provider.requests.append(
                    {"path": self.path, "auth": self.headers.get("Authorization"), **body}
                )
                if self.path != "/v1/images/generations":
                    self.send_error(404)
                    return
                provider.gate.wait(timeout=30)
                width, _, height = str(body.get("size", "32x32")).partition("x")
                image = Image.new("RGB", (int(width), int(height)), (40, 120, 200))
                buffer = io.BytesIO()
                image.save(buffer, format="PNG")
                encoded = base64.b64encode(buffer.getvalue()).decode()
                payload = json.dumps(
                    {"created": 0, "data": [{"b64_json": encoded}] * int(body.get("n", 1))}
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def start(self) -> FakeImagesProvider:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
