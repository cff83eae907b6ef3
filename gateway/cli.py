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
@click.option(
    "--xlsx",
    "xlsx_path",
    type=click.Path(dir_okay=False, writable=True),
    help="Write the statement as an Excel workbook to this file.",
)
@with_appcontext
def settle_report(window_id, as_csv, xlsx_path):
    """Print a window's statement (JSON, or CSV), or write it as XLSX."""
    from pathlib import Path

    from gateway import settlement, tables

    window = _window_or_exit(window_id)
    if xlsx_path:
        Path(xlsx_path).write_bytes(tables.to_xlsx(settlement.window_tables(window)))
        click.echo(f"wrote {xlsx_path}")
    elif as_csv:
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


@click.group("shu")
def shu_group():
    """SHU: a cooperative's members' savings, imported for a book year."""


@shu_group.command("import-savings")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--cooperative", "code", required=True, help="the cooperative's code, e.g. KSM")
@click.option("--year", type=click.IntRange(2000, 2100), required=True, help="the book year")
@click.option("--commit", is_flag=True, help="replace the year's savings (default: a dry run)")
@with_appcontext
def shu_import_savings(path, code, year, commit):
    """Check a savings sheet (CSV or XLSX) row by row; with --commit, replace the year's savings.

    Exit status 1 when any row is bad or the file is refused (nothing is written then)."""
    from pathlib import Path

    from gateway import audit, shu
    from gateway.errors import GatewayError

    cooperative = _cooperative_or_exit(code)
    data = Path(path).read_bytes()
    try:
        report = transaction(
            db.session,
            lambda session: shu.import_savings(
                session,
                cooperative,
                year=year,
                data=data,
                filename=path,
                commit=commit,
                user_id=None,
                actor=audit.cli_actor(),
            ),
        )
    except GatewayError as error:
        report = error.extensions.get("report")
        if report is None:
            click.echo(f"{error.message_en} / {error.message_id}", err=True)
            sys.exit(1)
    for bad in report["errors"]:
        click.echo(
            f"row {bad['row']}, column {bad['column']}: {bad['reason_en']} / {bad['reason_id']}"
        )
    verb = "imported" if report["committed"] else "checked (dry run, nothing written)"
    click.echo(
        f"{verb}: {report['rows']} rows, {report['valid']} valid, {report['invalid']} bad;"
        f" replaces {report['replaces']} of {year}"
    )
    if report["invalid"]:
        sys.exit(1)


@click.command("stickers")
@click.option("--cooperative", "code", required=True, help="The cooperative's code, e.g. KTS.")
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, writable=True),
    help="The folder for the pages.",
)
@click.option("--kind", type=click.Choice(["shop", "angkot", "taxi", "other"]), help="Only these.")
@with_appcontext
def stickers_command(code, out_dir, kind):
    """Write the A4 sticker sheet of a cooperative's merchants: one SVG per page into OUT."""
    from pathlib import Path

    from gateway import stickers
    from gateway.api.qr import qr_settings
    from gateway.models import Cooperative

    cooperative = _cooperative_or_exit(code)
    ring = current_app.extensions["keyring"]
    found = transaction(
        db.session,
        lambda s: stickers.cooperative_stickers(
            s, ring, qr_settings(), s.get(Cooperative, cooperative.id), kind
        ),
    )
    pages = stickers.page_count(found)
    if not pages:
        raise click.ClickException(f"{code} has no merchants to print stickers for")
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    for page in range(1, pages + 1):
        path = folder / stickers.page_file_name(cooperative.code, page, pages)
        path.write_bytes(stickers.render_page(found, page, cooperative.name))
    click.echo(f"{len(found)} stickers on {pages} pages in {folder}")


@click.group("import")
def import_group():
    """Members and merchants imported in bulk from a CSV or XLSX sheet, and their PIN slips."""


def _cooperative_or_exit(code: str):
    from sqlalchemy import select

    from gateway.models import Cooperative

    cooperative = db.session.scalar(select(Cooperative).where(Cooperative.code == code))
    if cooperative is None:
        raise click.ClickException(f"no cooperative with code {code}")
    return cooperative


def _write_slips(path: str, cooperative, slips) -> None:
    """Write a slip sheet readable by its owner only (it holds clear PINs: delete it once
    printed)."""
    import os

    from gateway import imports

    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as sheet:
        sheet.write(imports.slip_sheet_html(cooperative.name, slips))


def _run_import(kind: str, path: str, code: str, commit: bool, slips_path: str | None) -> None:
    from pathlib import Path

    from gateway import imports, uploads
    from gateway.errors import GatewayError

    cooperative = _cooperative_or_exit(code)
    try:
        sheet = uploads.read_sheet(Path(path).read_bytes(), path)
        if commit:
            report = transaction(
                db.session, lambda session: imports.commit(session, cooperative, sheet, kind)
            )
        else:
            report = imports.check(db.session, cooperative, sheet, kind)
            db.session.rollback()
    except GatewayError as error:
        db.session.rollback()
        click.echo(f"{error.message_id} / {error.message_en}", err=True)
        sys.exit(1)
    for note in report.problems:
        click.echo(f"baris {note.row}, kolom {note.column}: {note.reason_id} / {note.reason_en}")
    counts = report.counts
    verb = "imported" if commit else "dry run (nothing written)"
    click.echo(
        f"{kind} {verb}: {report.rows} rows, {counts['new']} new, {counts['existing']} existing,"
        f" {counts['invited']} invited, {counts['bad']} bad; {report.pins_to_issue} PIN slips to"
        " print"
    )
    if commit and slips_path and report.pins_to_issue:
        _issue_all_slips(cooperative, slips_path)
    sys.exit(1 if report.has_bad_rows else 0)


def _issue_all_slips(cooperative, path: str, limit: int | None = None) -> None:
    from gateway import imports

    slips = []
    while limit is None or len(slips) < limit:
        size = imports.SLIPS_PER_SHEET_MAX
        if limit is not None:
            size = min(size, limit - len(slips))
        sheet, remaining = imports.issue_pin_slips(
            db.session, cooperative, limit=size, scrypt_n=current_app.config["PIN_SCRYPT_N"]
        )
        slips.extend(sheet)
        if not sheet or not remaining:
            break
    _write_slips(path, cooperative, slips)
    click.echo(f"{len(slips)} PIN slips written to {path} (delete it once printed)")


@import_group.command("members")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--cooperative", "code", required=True, help="The cooperative's code.")
@click.option("--commit", is_flag=True, help="Write every valid row (else a dry run).")
@click.option("--slips", "slips_path", help="After a commit, write every PIN slip to this HTML.")
@with_appcontext
def import_members(path, code, commit, slips_path):
    """Import members (phone/nomor_hp, name/nama, tier); exit 1 if any row is bad."""
    _run_import("members", path, code, commit, slips_path)


@import_group.command("merchants")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--cooperative", "code", required=True, help="The cooperative's code.")
@click.option("--commit", is_flag=True, help="Write every valid row (else a dry run).")
@click.option("--slips", "slips_path", help="After a commit, write every PIN slip to this HTML.")
@with_appcontext
def import_merchants(path, code, commit, slips_path):
    """Import merchants with their owners; exit 1 if any row is bad."""
    _run_import("merchants", path, code, commit, slips_path)


@import_group.command("pin-slips")
@click.option("--cooperative", "code", required=True, help="The cooperative's code.")
@click.option("--output", "path", required=True, help="The HTML file to write (mode 0600).")
@click.option("--limit", type=click.IntRange(1), help="At most this many slips.")
@with_appcontext
def import_pin_slips(code, path, limit):
    """Issue PINs to imported logins still waiting for one and write their slips."""
    _issue_all_slips(_cooperative_or_exit(code), path, limit)


def init_app(app: Flask) -> None:
    for command in (
        init_db_command,
        keys_group,
        ledger_group,
        demo_command,
        settle_group,
        idempotency_group,
        webhooks_group,
        stickers_command,
        shu_group,
        import_group,
    ):
        app.cli.add_command(command)
