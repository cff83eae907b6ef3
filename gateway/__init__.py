"""Interkop: a QR payment gateway for cooperatives."""

from __future__ import annotations

from pathlib import Path

from flask import Flask

from gateway import availability, logs, metrics
from gateway import config as default_config
from gateway.compression import Compress
from gateway.db import db, install_dialect_quirks
from gateway.keys import KeyRing

MIGRATIONS_DIR = str(Path(__file__).resolve().parent / "migrations")


def create_app(test_config: dict | None = None) -> Flask:
    """Build the application: defaults, then GATEWAY_* variables, then `test_config`."""
    app = Flask(__name__, instance_relative_config=True, static_folder=None)
    app.config.from_object(default_config)
    app.config.from_prefixed_env("GATEWAY")
    if test_config:
        app.config.update(test_config)
    app.config["SQLALCHEMY_DATABASE_URI"] = availability.database_url_with_timeouts(
        normalise_database_url(app.config["DATABASE_URL"]), app.config
    )
    engine_options = app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {})
    engine_options.setdefault("pool_timeout", app.config["DATABASE_POOL_TIMEOUT_SECONDS"])
    app.config.setdefault("MAX_CONTENT_LENGTH", 64 * 1024)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///"):
        Path(app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///")).parent.mkdir(
            parents=True, exist_ok=True
        )

    db.init_app(app)
    with app.app_context():
        install_dialect_quirks(db.engine, app.config["SQLITE_BUSY_TIMEOUT_SECONDS"])
        availability.install(db.engine)
        # PostgreSQL: the watchdog pings a pooled connection at checkout, and times it.
        availability.watchdog.configure(
            app.config["DATABASE_TRANSACTION_DEADLINE_SECONDS"],
            ping=app.config["DATABASE_POOL_PRE_PING"],
        )
        availability.watchdog.watch(db.engine)
        metrics.watch_pool(db.engine)
    if app.config["LOG_FORMAT"] == "json":
        logs.configure(app.config["LOG_LEVEL"])

    from flask_migrate import Migrate

    Migrate(app, db, directory=MIGRATIONS_DIR, render_as_batch=True)

    app.extensions["keyring"] = KeyRing(app.config["KEYS_DIR"])
    # Bound before the blueprints, so it runs after their after_request hooks (Flask runs them
    # last-registered first): it compresses the answer they finished.
    Compress(app)

    from gateway import api, cli

    api.init_app(app)
    cli.init_app(app)
    return app


def normalise_database_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL URLs given the common `postgres://` or `postgresql://` form,
    and accept libpq's multi-host form (`postgresql://user@a:5432,b:5433/db`)."""
    url = availability.multi_host_url(url)
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url.removeprefix(prefix)
    return url
