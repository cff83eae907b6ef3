"""gunicorn settings for the gateway (the container's and `make bench`'s).

Threaded workers (gthread): a payment's time is mostly spent waiting on PostgreSQL (round trips,
the commit's WAL flush), which a thread releases the GIL for, and the merchant's long-poll holds a
thread, not a database transaction. One worker process per core runs the Python; the threads
overlap the waits. Every value can be set from the environment.
"""

import os

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
accesslog = None if os.environ.get("GUNICORN_ACCESS_LOG", "-") in ("", "off") else "-"
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
# Behind a load balancer or reverse proxy that sets X-Forwarded-*.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
# Each worker builds its own app: its own database pool and key ring.
preload_app = False
wsgi_app = os.environ.get("GUNICORN_APP", "gateway:create_app()")
