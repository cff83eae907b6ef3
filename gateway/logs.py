"""Log lines as JSON (python-json-logger), each carrying the id of the request it was written for.

One object a line on stderr: `time` (UTC, ISO 8601), `level`, `logger`, `pid`, `message`,
`request_id` (null outside a request) and whatever the line adds with `extra=` (the access
line: method, path, endpoint, status, duration_ms, remote_address). The request id is the one
the response carries as `X-Request-Id` (gateway/api/observability.py), so a client's complaint,
the load balancer's log and the gateway's lines meet on it.

`configure` installs the handler on the root logger once per process; gunicorn's own loggers get
the same formatter from docker/gunicorn.conf.py (`logconfig_dict`).
"""

from __future__ import annotations

import contextvars
import logging
import re
import sys
import uuid

from pythonjsonlogger.json import JsonFormatter

# Set for the length of a request by the API's hooks; each thread of a gthread worker has its own.
request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)

# An incoming X-Request-Id (from the load balancer) is kept when it looks like an id: letters,
# digits and . _ : - only, 8 to 128 of them. Anything else (a log-injection attempt, a megabyte)
# is replaced by a new one.
ACCEPTED_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{8,128}")

FIELDS = "%(asctime)s %(levelname)s %(name)s %(process)d %(message)s %(request_id)s"
RENAMED = {"asctime": "time", "levelname": "level", "name": "logger", "process": "pid"}


def new_request_id(incoming: str | None) -> str:
    """Return the load balancer's id if it is a sane one, else a new random one."""
    if incoming and ACCEPTED_REQUEST_ID.fullmatch(incoming):
        return incoming
    return uuid.uuid4().hex


class RequestIdFilter(logging.Filter):
    """Add the current request's id (or None) to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id.get()
        return True


class UtcJsonFormatter(JsonFormatter):
    """python-json-logger's formatter with UTC ISO 8601 times and our field names."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("rename_fields", RENAMED)
        super().__init__(FIELDS if not args else args[0], *args[1:], **kwargs)

    def formatTime(self, record, datefmt=None):  # noqa: N802 - logging's name
        from datetime import UTC, datetime

        moment = datetime.fromtimestamp(record.created, UTC)
        return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


_HANDLER_MARK = "interkop_json"


class _StderrHandler(logging.StreamHandler):
    """Write to whatever sys.stderr is at the time (a test runner swaps it)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


def configure(level: str = "INFO", stream=None) -> logging.Handler:
    """Send the root logger's lines to stderr as JSON (once per process; again is a no-op)."""
    root = logging.getLogger()
    for handler in root.handlers:
        if getattr(handler, _HANDLER_MARK, False):
            return handler
    handler = logging.StreamHandler(stream) if stream is not None else _StderrHandler()
    handler.setFormatter(UtcJsonFormatter())
    handler.addFilter(RequestIdFilter())
    setattr(handler, _HANDLER_MARK, True)
    root.addHandler(handler)
    if root.level == logging.NOTSET or root.level > logging.getLevelName(level):
        root.setLevel(level)
    return handler
