"""gunicorn settings for the gateway (the container's and `make bench`'s).

Threaded workers (gthread): a payment's time is mostly spent waiting on PostgreSQL (round trips,
the commit's WAL flush), which a thread releases the GIL for, and the merchant's long-poll holds a
thread, not a database transaction. One worker process per core runs the Python; the threads
overlap the waits. Every value can be set from the environment.

Metrics: one registry across the workers (prometheus_client's multiprocess mode). The master
gives every worker the folder PROMETHEUS_MULTIPROC_DIR (a fresh one per master unless set),
empties it at start, and a dead worker's live gauges are dropped in `child_exit`. Logs: JSON
lines, gunicorn's own too; the gateway writes one access line a request with its request id, so
gunicorn's access log is off unless GUNICORN_ACCESS_LOG=- asks for it.
"""

import os
import shutil
import tempfile

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
worker_class = "gthread"
workers = int(os.environ.get("GUNICORN_WORKERS", os.cpu_count() or 2))
threads = int(os.environ.get("GUNICORN_THREADS", "8"))
# At most half of a worker's threads wait on long-polls (the payment feed's wait=), so payments
# and health checks always find a thread; the workers inherit this environment.
os.environ.setdefault("GATEWAY_LONG_POLL_PROCESS_MAX", str(max(1, threads // 2)))
# Keep-alive connections wait in the worker's poller, not in a thread.
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "5"))
# Above the 30 s long-poll, with room to finish it.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = 30
# Recycle workers after this many requests (0: never), with jitter so they do not all restart
# at once.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "0"))
max_requests_jitter = max_requests // 10
accesslog = None if os.environ.get("GUNICORN_ACCESS_LOG", "off") in ("", "off") else "-"
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(levelname)s %(name)s %(process)d %(message)s",
            "rename_fields": {"levelname": "level", "name": "logger", "process": "pid"},
            "timestamp": "time",
        }
    },
    "handlers": {
        "stderr": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "stream": "ext://sys.stderr",
        }
    },
    # The gateway puts its own JSON handler on the root logger (gateway/logs.py).
    "root": {"level": "INFO", "handlers": []},
    "loggers": {
        "gunicorn.error": {"level": loglevel.upper(), "handlers": ["stderr"], "propagate": False},
        # With a logging config gunicorn always writes its access lines: to nowhere unless asked.
        "gunicorn.access": {
            "level": "INFO",
            "handlers": ["stderr"] if accesslog else [],
            "propagate": False,
        },
    },
}
# Behind a load balancer or reverse proxy that sets X-Forwarded-*.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
# Each worker builds its own app: its own database pool and key ring.
preload_app = False
wsgi_app = os.environ.get("GUNICORN_APP", "gateway:create_app()")


def prepare_metrics_directory() -> str:
    """Give the workers an empty folder for their metrics (before any of them, or a preloaded
    app, imports prometheus_client, which reads the variable at import)."""
    if os.environ.get("INTERKOP_METRICS_MASTER") == str(os.getpid()):
        # A reload (SIGHUP) reads this file again: the workers' files stay.
        return os.environ["PROMETHEUS_MULTIPROC_DIR"]
    os.environ["INTERKOP_METRICS_MASTER"] = str(os.getpid())
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or os.path.join(
        tempfile.gettempdir(), f"interkop-metrics-{os.getpid()}"
    )
    # A previous run's files would be counted as this run's.
    shutil.rmtree(directory, ignore_errors=True)
    os.makedirs(directory, mode=0o700, exist_ok=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
    return directory


# gunicorn loads this file as the module "__config__"; a test reading it with runpy must not have
# its environment changed.
if __name__ == "__config__":
    prepare_metrics_directory()


def child_exit(server, worker):
    """Drop a dead worker's live gauges (its counters stay: they are history)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
