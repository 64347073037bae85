"""`CLEARANCE_LOG_FORMAT=json`: every line `clearance serve` writes is one JSON object, from
uvicorn's server and access logs and from the gateway's own loggers (here a gateway whose
database lost its outbox table, which the delivery worker reports with a traceback)."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx

from tests.support_served import CLI, free_port


def _environment(tmp_path: Path, log_format: str) -> dict[str, str]:
    return {**os.environ, "CLEARANCE_DATA_DIR": str(tmp_path / "data"), "CLEARANCE_LOG_FORMAT": log_format}


def _broken_database(env: dict[str, str]) -> None:
    subprocess.run([*CLI, "db", "upgrade"], env=env, check=True, capture_output=True, timeout=120)
    with sqlite3.connect(Path(env["CLEARANCE_DATA_DIR"]) / "clearance.db") as database:
        database.execute("DROP TABLE outbox_messages")


def _serve_briefly(env: dict[str, str], port: int) -> list[dict[str, Any]]:
    _broken_database(env)
    process = subprocess.Popen(
        [*CLI, "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/health/live").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None, "the server exited"
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.2)
        assert httpx.get(f"{base}/health/ready").status_code == 200  # its other tables answer
        assert httpx.get(f"{base}/health/live", headers={"X-Request-ID": "probe-7"}).status_code == 200
        time.sleep(1.5)  # the background loops' first rounds, which log their failures
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=60)
    return [json.loads(line) for line in stderr.splitlines() if line.strip()]


def test_every_line_served_is_a_json_object(tmp_path: Path) -> None:
    records = _serve_briefly(_environment(tmp_path, "json"), free_port())
    for record in records:
        assert {"time", "level", "logger", "message"} <= record.keys(), record
        assert dt.datetime.fromisoformat(record["time"]).utcoffset() == dt.timedelta(0)
    messages = {(r["logger"], r["message"]) for r in records}
    assert ("uvicorn.error", "Application startup complete.") in messages
    access = [m for logger, m in messages if logger == "uvicorn.access"]
    probed = [r for r in records if r.get("request_id") == "probe-7"]
    assert [r["logger"] for r in probed] == ["uvicorn.access"], probed  # the access line, with its id
    assert any('"GET /health/live HTTP/1.1" 200' in m for m in access), access
    assert any('"GET /health/ready HTTP/1.1" 200' in m for m in access), access
    own = [r for r in records if r["logger"].startswith("gateway.")]
    failed = [r for r in own if r["level"] == "ERROR" and "outbox poll failed" in r["message"]]
    assert failed, own
    assert "Traceback" in failed[0]["exc_info"]
    assert "no such table: outbox_messages" in failed[0]["exc_info"]


def test_an_unknown_log_format_is_refused_before_serving(tmp_path: Path) -> None:
    result = subprocess.run(
        [*CLI, "serve", "--port", str(free_port())],
        env=_environment(tmp_path, "xml"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "log_format" in result.stderr
    assert "'xml'" in result.stderr
