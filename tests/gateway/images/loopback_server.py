"""The gateway under a real uvicorn server on a free loopback port, in a thread."""

from __future__ import annotations

import threading
import time
from types import TracebackType

import uvicorn
from litestar import Litestar


class LoopbackServer:
    def __init__(self, app: Litestar) -> None:
        self._server = uvicorn.Server(
            uvicorn.Config(
                app, host="127.0.0.1", port=0, lifespan="on", log_level="warning", access_log=False
            )
        )
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    @property
    def base_url(self) -> str:
        sockets = self._server.servers[0].sockets
        return f"http://127.0.0.1:{sockets[0].getsockname()[1]}"

    def __enter__(self) -> LoopbackServer:
        self._thread.start()
        deadline = time.monotonic() + 60
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the gateway did not start")
            time.sleep(0.02)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=30)
