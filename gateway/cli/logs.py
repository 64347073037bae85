"""How the served gateway logs: uvicorn's own format (`text`, the default) or one JSON object per
line (`json`, `CLEARANCE_LOG_FORMAT`) for log collectors, with `python-json-logger`.

The JSON configuration covers every logger the process writes to: the root logger (the
gateway's, the registry's, the runners'), Litestar's and uvicorn's (server and access log), so
no line of the process is plain text. Each object carries `time` (ISO 8601, UTC), `level`,
`logger` and `message`, plus `exc_info` with the traceback when there is one and `request_id`
when it was logged while serving a request (uvicorn's access log line among them).
"""

from __future__ import annotations

from typing import Any

_JSON_FORMATTER = {
    "()": "pythonjsonlogger.json.JsonFormatter",
    "fmt": "%(levelname)s %(name)s %(message)s",
    "rename_fields": {"levelname": "level", "name": "logger"},
    "timestamp": "time",
}


def json_log_config(level: str = "INFO") -> dict[str, Any]:
    """A `logging.config.dictConfig` mapping (uvicorn's `log_config`) writing JSON lines to
    standard error."""
    handler = {
        "class": "logging.StreamHandler",
        "formatter": "json",
        "stream": "ext://sys.stderr",
        "filters": ["request_id"],
    }
    only_json = {"handlers": ["json"], "level": level, "propagate": False}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": _JSON_FORMATTER},
        "filters": {"request_id": {"()": "gateway.request_ids.RequestIdLogFilter"}},
        "handlers": {"json": handler},
        "root": {"handlers": ["json"], "level": level},
        "loggers": {name: only_json for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "litestar")},
    }
