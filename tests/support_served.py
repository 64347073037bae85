"""What the tests that run `clearance` in a subprocess share: the command and a free port."""

from __future__ import annotations

import socket
import sys

CLI = [sys.executable, "-c", "from gateway.cli import main; main()"]
"""`clearance` as this interpreter runs it (no installed script needed)."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
