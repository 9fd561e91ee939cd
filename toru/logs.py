"""Logging: JSON lines to `<logs>/toru.log` (rotated, bounded) for machines,
a short human format on the console for the operator.

Structured fields travel as `extra=`: `log.info("login", extra={"user": u})`.
Never pass a password, a session token or a cookie.
"""

import json
import logging
import logging.handlers
import sys
import time
from datetime import datetime, timezone

ROTATE_BYTES = 10 * 1024 * 1024
ROTATE_KEEP = 5
TRACE = 5
logging.addLevelName(TRACE, "TRACE")
LEVELS = {"trace": TRACE, "debug": logging.DEBUG, "info": logging.INFO,
          "warn": logging.WARNING, "warning": logging.WARNING, "error": logging.ERROR}
WIRE_LEVEL = {TRACE: "trace", logging.DEBUG: "debug", logging.INFO: "info",
              logging.WARNING: "warn", logging.ERROR: "error", logging.CRITICAL: "error"}
# Attributes every LogRecord has; anything else came in through `extra=`.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}


def rfc3339(ts=None):
    ts = time.time() if ts is None else ts
    return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def record_fields(record):
    return {k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")}


class JSONFormatter(logging.Formatter):
    def format(self, record):
        line = {
            "timestamp": rfc3339(record.created),
            "level": WIRE_LEVEL.get(record.levelno, "info"),
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update(record_fields(record))
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str, ensure_ascii=False)


class ConsoleFormatter(logging.Formatter):
    def format(self, record):
        fields = " ".join(f"{k}={v}" for k, v in record_fields(record).items())
        text = f"{time.strftime('%H:%M:%S', time.localtime(record.created))} {WIRE_LEVEL.get(record.levelno, 'info'):5} {record.getMessage()}"
        if fields:
            text += f"  {fields}"
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


def setup(config, console=sys.stderr):
    """Configure the `toru` logger tree once per process."""
    root = logging.getLogger("toru")
    level = LEVELS[config.log_level]
    root.setLevel(level)
    root.propagate = False
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    config.log_dir.mkdir(parents=True, exist_ok=True)
    to_file = logging.handlers.RotatingFileHandler(
        config.log_dir / "toru.log", maxBytes=ROTATE_BYTES, backupCount=ROTATE_KEEP, encoding="utf-8")
    to_file.setFormatter(JSONFormatter())
    # The level on the handlers too: the audit trail lowers a few loggers to
    # info for itself (accounts/audit_capture.py), and the log stays as asked.
    to_file.setLevel(level)
    root.addHandler(to_file)
    if console is not None:
        to_console = logging.StreamHandler(console)
        to_console.setFormatter(ConsoleFormatter())
        to_console.setLevel(level)
        root.addHandler(to_console)
    return root
