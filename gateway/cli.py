"""The `gateway` command: init-db, keys, demo, ledger check, idempotency purge, the webhook
worker (and Flask's own)."""

from __future__ import annotations

import json
import os
import sys

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext

from gateway.db import db, transaction


def main() -> None:
    from gateway import create_app

    # A command runs as long as its work needs (a ledger check over a city's year, a migration):
    # the statement and idle-transaction timeouts are for requests (gateway/config.py).
    os.environ.setdefault("GATEWAY_DATABASE_STATEMENT_TIMEOUT_SECONDS", "0")
    os.environ.setdefault("GATEWAY_DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_SECONDS", "0")
    cli = FlaskGroup(create_app=lambda: create_app(), help="Interkop gateway commands.")
    cli(prog_name="gateway")


@click.command("init-db")
@with_appcontext
def init_db_command():
    """Migrate the database to the newest schema and generate keys if there are none."""
    from flask_migrate import upgrade

    from gateway import registry, settlement

    upgrade()
    transaction(db.session, registry.ensure_network_accounts)
    transaction(db.session, settlement.ensure_open_window)
    if current_app.extensions["keyring"].ensure():
        click.echo("generated the first signing key")
    click.echo("database at the newest schema")


@click.group("keys")
def keys_group():
    """The Ed25519 key ring in keys/."""


@keys_group.command("ensure")
@with_appcontext
def keys_ensure():
    """Generate the first key if the ring has none."""
    made = current_app.extensions["keyring"].ensure()
    click.echo("generated a signing key" if made else "the key ring has an active key")


@keys_group.command("list")
@with_appcontext
def keys_list():
    """List every key: kid, status, created."""
    from gateway.keys import KeyRingError

    ring = current_app.extensions["keyring"]
    try:
        signing = ring.signing_key().kid
    except KeyRingError as error:
        raise click.ClickException(str(error)) from None
    for key in ring.keys():  # noqa: SIM118 - the key ring, not a dict
        marker = " (signing)" if key.kid == signing else ""
        click.echo(f"{key.kid}\t{key.status}\t{key.created_at}{marker}")


@keys_group.command("rotate")
@with_appcontext
def keys_rotate():
    """Add a new signing key; older keys keep verifying."""
    from gateway import audit

    kid = current_app.extensions["keyring"].rotate()
    transaction(
        db.session, lambda s: audit.record(s, "keys.rotate", target=kid, detail=audit.cli_actor())
    )
    click.echo(kid)


@keys_group.command("retire")
@click.argument("kid")
@with_appcontext
def keys_retire(kid):
    """Stop KID signing and delete its private key."""
    from gateway.keys import KeyRingError

    try:
        current_app.extensions["keyring"].retire(kid)
    except KeyRingError as error:
        raise click.ClickException(str(error)) from None
    from gateway import audit

    transaction(
        db.session, lambda s: audit.record(s, "keys.retire", target=kid, detail=audit.cli_actor())
    )
    click.echo(f"retired {kid}")


@click.group("ledger")
def ledger_group():
    """The ledger's books."""


@ledger_group.command("check")
@with_appcontext
def ledger_check():
    """Verify every ledger invariant over the whole database; exit 1 naming what fails."""
    from gateway import ledger

    problems = ledger.check(db.session)
    db.session.rollback()
    if problems:
        for problem in problems:
            click.echo(f"FAIL {problem}", err=True)
        sys.exit(1)
    click.echo("ledger ok: every transfer positive, balances sum to zero, stored balances match")


@click.command("demo")
@click.option("--json", "as_json", is_flag=True, help="Print the logins as one JSON object.")
@click.option(
    "--pay", is_flag=True, help="Also make a morning of demo payments across cooperatives."
)
@with_appcontext
def demo_command(as_json, pay):
    """Seed the demo city (once: a second run adds nothing) and print its logins."""
    from gateway import demo
    from gateway.api.qr import qr_settings
    from gateway.api.support import pin_policy

    city = demo.seed(db.session, scrypt_n=current_app.config["PIN_SCRYPT_N"])
    if pay:
        receipts = demo.pay_some(
            db.session, current_app.extensions["keyring"], qr_settings(), pin_policy()
        )
        if not as_json:
            for receipt in receipts:
                click.echo(
                    f"paid {receipt['amount']:>7} to {receipt['merchant']['name']}"
                    f" (fee {receipt['fee_amount']})"
                )
    if as_json:
        click.echo(json.dumps(city, indent=2))
    else:
        click.echo(demo.describe(city))


@click.group("settle")
def settle_group():
    """Settlement windows between cooperatives."""


def _window_or_exit(public_id):
    from gateway import settlement
    from gateway.errors import NotFound

    try:
        return settlement.get_window(db.session, public_id)
    except NotFound:
        raise click.ClickException(f"no settlement window {public_id}") from None


@settle_group.command("close")
@with_appcontext
def settle_close():
    """Close the open window, seal it, and print its statement."""
    from gateway import audit, settlement
    from gateway.errors import GatewayError

    try:
        window = settlement.close(db.session, lambda work: transaction(db.session, work))
    except GatewayError as error:
        raise click.ClickException(error.message_en) from None
    transaction(
        db.session,
        lambda s: audit.record(
            s, "settlement.close", target=window.public_id, detail=audit.cli_actor()
        ),
    )
    click.echo(settlement.describe(window))


@settle_group.command("report")
@click.argument("window_id")
@click.option("--csv", "as_csv", is_flag=True, help="Print the statement as CSV.")
@with_appcontext
def settle_report(window_id, as_csv):
    """Print a window's statement (JSON, or CSV)."""
    from gateway import settlement

    window = _window_or_exit(window_id)
    if as_csv:
        click.echo(settlement.window_csv(window), nl=False)
    else:
        click.echo(json.dumps(settlement.window_json(window), indent=2))


@settle_group.command("verify")
@click.argument("window_id")
@with_appcontext
def settle_verify(window_id):
    """Recompute a window's digest; exit 1 naming the window if its transfers changed."""
    from gateway import settlement
    from gateway.errors import GatewayError

    window = _window_or_exit(window_id)
    try:
        settlement.verify(db.session, window)
    except GatewayError as error:
        click.echo(f"FAIL window {window.public_id}: {error.message_en}", err=True)
        sys.exit(1)
    click.echo(
        f"window {window.public_id} verifies: {window.transfer_count} transfers, {window.digest}"
    )


@settle_group.command("mark-settled")
@click.argument("window_id")
@with_appcontext
def settle_mark_settled(window_id):
    """Write the window's settlement transfers (once) and mark it settled."""
    from gateway import audit, settlement
    from gateway.errors import GatewayError

    window = _window_or_exit(window_id)
    try:
        settled = transaction(db.session, lambda s: settlement.mark_settled(s, window, None))
    except GatewayError as error:
        raise click.ClickException(error.message_en) from None
    transaction(
        db.session,
        lambda s: audit.record(s, "settlement.settle", target=window_id, detail=audit.cli_actor()),
    )
    click.echo(f"window {settled.public_id} is {settled.status}")


@click.group("idempotency")
def idempotency_group():
    """The Idempotency-Key store."""


@idempotency_group.command("purge")
@with_appcontext
def idempotency_purge():
    """Delete answered keys past their retention (24 hours by default)."""
    from gateway import idempotency

    count = transaction(db.session, idempotency.purge)
    click.echo(f"purged {count} keys")


@click.group("webhooks")
def webhooks_group():
    """Signed webhooks to cooperatives' systems."""


@webhooks_group.command("run")
@click.option("--once", is_flag=True, help="Deliver what is due now, then exit.")
@click.option("--threads", type=click.IntRange(1, 256), help="Attempts in flight at once.")
@with_appcontext
def webhooks_run(once, threads):
    """Run the delivery worker until SIGTERM or SIGINT (several may run at once)."""
    import logging
    import signal
    import threading

    from gateway.webhook_worker import Worker

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    stop = threading.Event()
    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, lambda *_: stop.set())
    worker = Worker(current_app._get_current_object(), threads=threads)
    click.echo(f"webhook worker {worker.name}: {worker.threads} threads", err=True)
    made = worker.run(stop, once=once)
    click.echo(f"webhook worker {worker.name} stopped after {made} attempts", err=True)


def init_app(app: Flask) -> None:
    for command in (
        init_db_command,
        keys_group,
        ledger_group,
        demo_command,
        settle_group,
        idempotency_group,
        webhooks_group,
    ):
        app.cli.add_command(command)
