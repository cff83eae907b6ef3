"""Settlement windows: close, seal, report, verify and settle; merchant days; cooperative reports.

Every transfer is stamped, by its own INSERT, with the window open at that moment. Closing a
window happens in two steps:

1. *Switch* — one short transaction moves the open window to `closing` and opens the next. On
   PostgreSQL it first takes `LOCK TABLE transfers IN SHARE MODE`, which waits for every
   transaction that has already inserted transfers and holds back new inserts for the few
   milliseconds until the switch commits; they then read the new window. On SQLite every write
   transaction is serialised anyway. On a serializable engine (CockroachDB) the payment's read of
   the window row conflicts with the switch's write and one of the two is retried.
2. *Compute* — with no lock held, payments going on into the next window, the closed window's
   transfers are fixed: sum the positions, the per-pair figures, and a SHA-256 digest over its
   transfers in id order; store them and move the window to `closed`.

Every status change is a transition of the window's state machine (gateway.states): under the
row's lock, from the state the database holds, a repeat a no-op. So a burst of closes closes the
open window once (the others join that close and answer the same window; a window with no
transfers is not closed at all), and a burst of settles writes the settlement transfers once.

A cooperative's position in a window is the change in the balances of the accounts it owns over
the window's transfers, settlement transfers excluded. Marking a window settled writes, once, the
settlement transfers that bring each of its positions back to zero, through the network's
settlement account; their event names the window it settles (`events.settles_window_id`), so
that `gateway ledger check` finds a window settled twice.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict

from sqlalchemy import func, select, text, union_all, update
from sqlalchemy.orm import Session

from gateway import ledger, states, webhooks
from gateway.db import is_postgresql, utcnow
from gateway.errors import Conflict, GatewayError, NotFound
from gateway.models import (
    Account,
    AccountKind,
    Cooperative,
    Event,
    Payment,
    Refund,
    SettlementWindow,
    Transfer,
    WebhookEventType,
    WindowStatus,
)
from gateway.models.ledger import EventKind, TransferCode
from gateway.tables import Column, Table, to_csv


class WindowTampered(GatewayError):
    status = 409
    slug = "window-tampered"
    title = "Settlement window does not verify"
    message_id = "Data jendela penyelesaian telah berubah sejak ditutup."
    message_en = "The settlement window's transfers changed after it was closed."


class WindowEmpty(GatewayError):
    status = 409
    slug = "window-empty"
    title = "Nothing to close"
    message_id = "Tidak ada yang ditutup: belum ada transfer sejak penutupan terakhir."
    message_en = "Nothing to close: no transfer has been written since the last close."


def ensure_open_window(session: Session) -> SettlementWindow:
    """Return the open window, opening the first one if there is none."""
    window = session.scalar(
        select(SettlementWindow).where(SettlementWindow.status == WindowStatus.OPEN)
    )
    if window is None:
        window = SettlementWindow(status=WindowStatus.OPEN, opened_at=utcnow())
        session.add(window)
        session.flush()
    return window


def get_window(session: Session, public_id: str) -> SettlementWindow:
    window = session.scalar(select(SettlementWindow).where(SettlementWindow.public_id == public_id))
    if window is None:
        raise NotFound("No such settlement window.", "Jendela penyelesaian tidak ditemukan.")
    return window


def _fresh(session: Session, window_id: int) -> SettlementWindow:
    """Read a window as the database holds it now (not as the session loaded it earlier)."""
    return session.scalar(
        select(SettlementWindow)
        .where(SettlementWindow.id == window_id)
        .execution_options(populate_existing=True)
    )


def switch(session: Session, window_id: int | None = None) -> int:
    """Step 1: move the open window (or window `window_id`) to closing and open the next; return
    the closing window's id.

    A close that another close beat to it joins that close: the window is already closing (or
    closed), and this returns its id without opening another.
    """
    if is_postgresql(session):
        session.execute(text("LOCK TABLE transfers IN SHARE MODE"))
    if window_id is None:
        window_id = session.scalar(
            select(SettlementWindow.id).where(SettlementWindow.status == WindowStatus.OPEN)
        )
        if window_id is None:
            raise Conflict("No window is open.", "Tidak ada jendela yang terbuka.")
    elif states.state_of(session, states.SETTLEMENT_WINDOW, window_id) != WindowStatus.OPEN:
        return window_id
    empty = (
        session.scalar(select(Transfer.id).where(Transfer.window_id == window_id).limit(1)) is None
    )
    if empty:
        raise WindowEmpty()
    now = utcnow()
    if states.transition(
        session, states.SETTLEMENT_WINDOW, window_id, WindowStatus.CLOSING, closed_at=now
    ):
        session.add(SettlementWindow(status=WindowStatus.OPEN, opened_at=now))
        session.flush()
    return window_id


def digest(session: Session, window_id: int) -> tuple[str, int]:
    """Return the SHA-256 over the window's transfers in id order, and how many there are."""
    hasher = hashlib.sha256()
    count = 0
    rows = session.execute(
        select(
            Transfer.id,
            Transfer.public_id,
            Transfer.event_id,
            Transfer.debit_account_id,
            Transfer.credit_account_id,
            Transfer.amount,
            Transfer.code,
            Transfer.created_at,
        )
        .where(Transfer.window_id == window_id)
        .order_by(Transfer.id)
        .execution_options(yield_per=10_000)
    )
    for row in rows:
        created_at = row.created_at.isoformat(timespec="microseconds")
        hasher.update(
            f"{row.id}|{row.public_id}|{row.event_id}|{row.debit_account_id}|"
            f"{row.credit_account_id}|{row.amount}|{row.code}|{created_at}\n".encode()
        )
        count += 1
    return hasher.hexdigest(), count


def window_positions(session: Session, window_id: int) -> dict[int | None, int]:
    """Each owner's net position over the window (settlement transfers excluded)."""
    base = (Transfer.window_id == window_id) & (Transfer.code != TransferCode.SETTLEMENT)
    credits = select(
        Transfer.credit_account_id.label("account_id"), Transfer.amount.label("amount")
    ).where(base)
    debits = select(
        Transfer.debit_account_id.label("account_id"), (-Transfer.amount).label("amount")
    ).where(base)
    movements = union_all(credits, debits).subquery()
    rows = session.execute(
        select(Account.cooperative_id, func.sum(movements.c.amount))
        .join(Account, Account.id == movements.c.account_id)
        .group_by(Account.cooperative_id)
    ).all()
    return {cooperative_id: int(total) for cooperative_id, total in rows}


def pair_figures(session: Session, window_id: int) -> list[dict]:
    """Gross, count and fees per (issuer, acquirer) pair for payments and refunds in the window."""
    payment_events = select(Transfer.event_id).where(
        Transfer.window_id == window_id, Transfer.code == TransferCode.PAYMENT
    )
    pairs: dict[tuple[int, int], dict] = defaultdict(
        lambda: {
            "count": 0,
            "gross": 0,
            "fee_issuer": 0,
            "fee_acquirer": 0,
            "fee_network": 0,
            "refund_count": 0,
            "refunds": 0,
        }
    )
    for row in session.execute(
        select(
            Payment.issuer_cooperative_id,
            Payment.acquirer_cooperative_id,
            func.count(),
            func.sum(Payment.amount),
            func.sum(Payment.fee_issuer_amount),
            func.sum(Payment.fee_acquirer_amount),
            func.sum(Payment.fee_network_amount),
        )
        .where(Payment.event_id.in_(payment_events))
        .group_by(Payment.issuer_cooperative_id, Payment.acquirer_cooperative_id)
    ):
        figures = pairs[(row[0], row[1])]
        figures["count"] = int(row[2])
        figures["gross"] = int(row[3])
        figures["fee_issuer"] = int(row[4])
        figures["fee_acquirer"] = int(row[5])
        figures["fee_network"] = int(row[6])
    refund_events = select(Transfer.event_id).where(
        Transfer.window_id == window_id, Transfer.code == TransferCode.REFUND
    )
    for row in session.execute(
        select(
            Payment.issuer_cooperative_id,
            Payment.acquirer_cooperative_id,
            func.count(),
            func.sum(Refund.amount),
            func.sum(Refund.fee_issuer_amount),
            func.sum(Refund.fee_acquirer_amount),
            func.sum(Refund.fee_network_amount),
        )
        .join(Payment, Payment.id == Refund.payment_id)
        .where(Refund.event_id.in_(refund_events))
        .group_by(Payment.issuer_cooperative_id, Payment.acquirer_cooperative_id)
    ):
        figures = pairs[(row[0], row[1])]
        figures["refund_count"] = int(row[2])
        figures["refunds"] = int(row[3])
        figures["fee_issuer"] -= int(row[4])
        figures["fee_acquirer"] -= int(row[5])
        figures["fee_network"] -= int(row[6])
    names = {
        cooperative_id: (public_id, code)
        for cooperative_id, public_id, code in session.execute(
            select(Cooperative.id, Cooperative.public_id, Cooperative.code)
        )
    }
    return [
        {
            "issuer": names[issuer][0],
            "acquirer": names[acquirer][0],
            "issuer_code": names[issuer][1],
            "acquirer_code": names[acquirer][1],
            **figures,
        }
        for (issuer, acquirer), figures in sorted(pairs.items())
    ]


def compute(session: Session, window_id: int) -> SettlementWindow:
    """Step 2: seal a closing window: digest, positions, pairs, net debit caps. Lock-free until
    the window's transition to closed; a window sealed already is answered as it is."""
    window = _fresh(session, window_id)
    if window.status in (WindowStatus.CLOSED, WindowStatus.SETTLED):
        return window
    window_digest, count = digest(session, window_id)
    positions = window_positions(session, window_id)
    total = sum(positions.values())
    if total != 0:
        raise AssertionError(f"positions of window {window.public_id} sum to {total}, not 0")
    cooperatives = {c.id: c for c in session.scalars(select(Cooperative))}
    lines = []
    for cooperative_id, cooperative in sorted(cooperatives.items()):
        position = positions.get(cooperative_id, 0)
        cap = cooperative.net_debit_cap
        lines.append(
            {
                "cooperative_id": cooperative.public_id,
                "code": cooperative.code,
                "name": cooperative.name,
                "position": position,
                "pays": max(-position, 0),
                "receives": max(position, 0),
                "net_debit_cap": cap,
                "over_cap": cap is not None and -position > cap,
            }
        )
    # Two computes of one window (a close joined by another) seal it once: the second one's
    # transition is a repeat and stores nothing (and tells no one).
    sealed = states.transition(
        session,
        states.SETTLEMENT_WINDOW,
        window_id,
        WindowStatus.CLOSED,
        digest=window_digest,
        transfer_count=count,
        report={
            "positions": lines,
            "network_position": positions.get(None, 0),
            "pairs": pair_figures(session, window_id),
        },
    )
    window = _fresh(session, window_id)
    if sealed:
        _emit_window(
            session,
            WebhookEventType.SETTLEMENT_WINDOW_CLOSED,
            window,
            {owner for owner in positions if owner is not None},
            window.closed_at,
        )
    return window


def _emit_window(session: Session, event_type: str, window, parties: set[int], at) -> None:
    """Tell each cooperative party to a window (one whose accounts moved in it) of its close or
    settlement, with the window as that cooperative's admin reads it (its own lines only), and the
    network's endpoints with the whole window."""
    if not webhooks.has_subscribers(session, event_type):
        return
    public_ids = dict(
        session.execute(
            select(Cooperative.id, Cooperative.public_id).where(Cooperative.id.in_(parties))
        ).all()
    )
    for cooperative_id in sorted(parties):
        webhooks.emit(
            session,
            event_type,
            window_json(window, public_ids[cooperative_id]),
            cooperative_ids={cooperative_id},
            network=False,
            window_id=window.id,
            created_at=at,
        )
    webhooks.emit(
        session,
        event_type,
        window_json(window),
        cooperative_ids=set(),
        network=True,
        window_id=window.id,
        created_at=at,
    )


def close(session: Session, commit, window_public_id: str | None = None) -> SettlementWindow:
    """Close a window (switch, then compute) and return it sealed.

    Without `window_public_id`: the open window, after finishing a close that was interrupted.
    With it: that window; if it is closing or closed already (a repeat, or a close that another
    beat to it), the answer is the window, sealed once. `commit(work)` runs `work(session)` in a
    transaction of its own (gateway.db.transaction).
    """
    if window_public_id is None:
        window_id = session.scalar(
            select(SettlementWindow.id).where(SettlementWindow.status == WindowStatus.CLOSING)
        )
        session.rollback()
        if window_id is None:
            window_id = commit(switch)
    else:
        window = get_window(session, window_public_id)
        window_id, status = window.id, window.status
        session.rollback()
        if status == WindowStatus.OPEN:
            commit(lambda s: switch(s, window_id))
    return commit(lambda s: compute(s, window_id))


def verify(session: Session, window: SettlementWindow) -> None:
    """Recompute a sealed window's digest and positions; raise WindowTampered if they changed."""
    if window.status not in (WindowStatus.CLOSED, WindowStatus.SETTLED):
        raise Conflict("The window is not closed yet.", "Jendela belum ditutup.")
    recomputed, count = digest(session, window.id)
    if recomputed != window.digest or count != window.transfer_count:
        raise WindowTampered(window=window.public_id, expected=window.digest, found=recomputed)
    stored = {line["cooperative_id"]: line["position"] for line in window.report["positions"]}
    public_ids = dict(session.execute(select(Cooperative.id, Cooperative.public_id)).all())
    for cooperative_id, position in window_positions(session, window.id).items():
        if cooperative_id is not None and stored.get(public_ids[cooperative_id], 0) != position:
            raise WindowTampered(window=window.public_id)


def mark_settled(
    session: Session, window: SettlementWindow, actor_user_id: int | None
) -> SettlementWindow:
    """Write the window's settlement transfers once; a repeat changes nothing.

    The money is written only by the call whose transition closed -> settled happened; a repeat
    (however many at once) answers the window as the database holds it. Settling a window that
    is not closed yet is refused (`TransitionRefused`, 409).
    """
    window_id = window.id
    if not states.transition(
        session, states.SETTLEMENT_WINDOW, window_id, WindowStatus.SETTLED, settled_at=utcnow()
    ):
        return _fresh(session, window_id)
    settled = _fresh(session, window_id)
    network_account = ledger.system_account(session, AccountKind.SETTLEMENT, None)
    legs = []
    ids = dict(session.execute(select(Cooperative.public_id, Cooperative.id)).all())
    for line in settled.report["positions"]:
        position = line["position"]
        if position == 0:
            continue
        account = ledger.system_account(
            session, AccountKind.SETTLEMENT, ids[line["cooperative_id"]]
        )
        if position > 0:
            legs.append(
                ledger.Leg(account.id, network_account.id, position, TransferCode.SETTLEMENT)
            )
        else:
            legs.append(
                ledger.Leg(network_account.id, account.id, -position, TransferCode.SETTLEMENT)
            )
    # The network's own position (its fee income) needs no leg of its own: its settlement
    # account takes the difference of the cooperatives' legs, which is exactly minus it.
    if legs:
        posted = ledger.post(
            session, kind=EventKind.SETTLEMENT, legs=legs, actor_user_id=actor_user_id
        )
        session.execute(
            update(Event)
            .where(Event.id == posted.id)
            .values(settles_window_id=window_id)
            .execution_options(synchronize_session=False)
        )
        settled.settlement_event_id = posted.id
        session.flush()
    if webhooks.has_subscribers(session, WebhookEventType.SETTLEMENT_WINDOW_SETTLED):
        parties = {owner for owner in window_positions(session, window_id) if owner is not None}
        _emit_window(
            session,
            WebhookEventType.SETTLEMENT_WINDOW_SETTLED,
            settled,
            parties,
            settled.settled_at,
        )
    return settled


def window_json(window: SettlementWindow, cooperative_public_id: str | None = None) -> dict:
    """Render a window; a cooperative admin sees only its own lines."""
    body = {
        "id": window.public_id,
        "status": window.status,
        "opened_at": window.opened_at.isoformat(),
        "closed_at": window.closed_at.isoformat() if window.closed_at else None,
        "settled_at": window.settled_at.isoformat() if window.settled_at else None,
        "transfer_count": window.transfer_count,
        "digest": window.digest,
    }
    if window.report is not None:
        positions = window.report["positions"]
        pairs = window.report["pairs"]
        if cooperative_public_id is not None:
            positions = [p for p in positions if p["cooperative_id"] == cooperative_public_id]
            pairs = [p for p in pairs if cooperative_public_id in (p["issuer"], p["acquirer"])]
        else:
            body["network_position"] = window.report["network_position"]
        body["positions"] = positions
        body["pairs"] = pairs
    return body


POSITION_COLUMNS = (
    Column("section", "section"),
    Column("window", "window"),
    Column("cooperative", "cooperative"),
    Column("code", "code"),
    Column("position", "position", "rupiah"),
    Column("pays", "pays", "rupiah"),
    Column("receives", "receives", "rupiah"),
    Column("over_cap", "over_cap"),
    Column("name", "name", width=32),
)
PAIR_COLUMNS = (
    Column("section", "section"),
    Column("window", "window"),
    Column("issuer", "issuer"),
    Column("acquirer", "acquirer"),
    Column("count", "count", "integer"),
    Column("gross", "gross", "rupiah"),
    Column("fee_issuer", "fee_issuer", "rupiah"),
    Column("fee_acquirer", "fee_acquirer", "rupiah"),
    Column("fee_network", "fee_network", "rupiah"),
    Column("refund_count", "refund_count", "integer"),
    Column("refunds", "refunds", "rupiah"),
    Column("issuer_code", "issuer_code"),
    Column("acquirer_code", "acquirer_code"),
)
WINDOW_COLUMNS = (
    Column("window", "window"),
    Column("status", "status"),
    Column("opened_at", "opened_at (WIB)", "datetime"),
    Column("closed_at", "closed_at (WIB)", "datetime"),
    Column("settled_at", "settled_at (WIB)", "datetime"),
    Column("transfer_count", "transfer_count", "integer"),
    Column("network_position", "network_position", "rupiah"),
    Column("digest", "digest", width=66),
)


def window_tables(
    window: SettlementWindow, cooperative_public_id: str | None = None
) -> list[Table]:
    """A window's statement as tables: one line per cooperative, one per pair, then the window.

    A cooperative admin (`cooperative_public_id`) sees only its own lines and not the network's
    position, exactly as in `window_json`.
    """
    body = window_json(window, cooperative_public_id)
    positions = [
        {
            "section": "position",
            "window": window.public_id,
            "cooperative": line["cooperative_id"],
            **line,
        }
        for line in body.get("positions", [])
    ]
    pairs = [
        {"section": "pair", "window": window.public_id, **pair} for pair in body.get("pairs", [])
    ]
    summary = {
        "window": window.public_id,
        "status": window.status,
        "opened_at": window.opened_at,
        "closed_at": window.closed_at,
        "settled_at": window.settled_at,
        "transfer_count": window.transfer_count,
        "network_position": body.get("network_position"),
        "digest": window.digest,
    }
    return [
        Table("Posisi - Positions", POSITION_COLUMNS, positions),
        Table("Pasangan - Pairs", PAIR_COLUMNS, pairs),
        Table("Jendela - Window", WINDOW_COLUMNS, [summary]),
    ]


def window_csv(window: SettlementWindow, cooperative_public_id: str | None = None) -> str:
    """Render a window's statement as CSV (the CLI's `settle report --csv`)."""
    return to_csv(window_tables(window, cooperative_public_id))


def describe(window: SettlementWindow) -> str:
    """Render a closed window's statement for a person."""
    from gateway.money import format_rupiah

    lines = [
        f"Window {window.public_id}: {window.status}, {window.transfer_count} transfers,"
        f" digest {window.digest}",
        "",
    ]
    for line in window.report["positions"]:
        if line["position"] > 0:
            verdict = f"receives {format_rupiah(line['receives'])}"
        elif line["position"] < 0:
            verdict = f"pays {format_rupiah(line['pays'])}"
        else:
            verdict = "settles nothing"
        cap = " (over its net debit cap)" if line["over_cap"] else ""
        lines.append(f"  {line['code']:<6} {line['name']:<40} {verdict}{cap}")
    lines.append(f"  network fee income: {format_rupiah(window.report['network_position'])}")
    lines.append("")
    for pair in window.report["pairs"]:
        lines.append(
            f"  {pair['issuer_code']} -> {pair['acquirer_code']}: {pair['count']} payments,"
            f" {format_rupiah(pair['gross'])} gross,"
            f" fees issuer {format_rupiah(pair['fee_issuer'])},"
            f" acquirer {format_rupiah(pair['fee_acquirer'])},"
            f" network {format_rupiah(pair['fee_network'])}"
        )
    return "\n".join(lines)


def unsettled_position(session: Session, cooperative_id: int) -> int:
    """A cooperative's net position over every window not yet settled (settlement transfers
    excluded): how much it owes (negative) or is owed since its last settlement."""
    unsettled = select(SettlementWindow.id).where(SettlementWindow.status != WindowStatus.SETTLED)
    owned = select(Account.id).where(Account.cooperative_id == cooperative_id)
    base = Transfer.window_id.in_(unsettled) & (Transfer.code != TransferCode.SETTLEMENT)
    credits = session.scalar(
        select(func.coalesce(func.sum(Transfer.amount), 0)).where(
            base, Transfer.credit_account_id.in_(owned)
        )
    )
    debits = session.scalar(
        select(func.coalesce(func.sum(Transfer.amount), 0)).where(
            base, Transfer.debit_account_id.in_(owned)
        )
    )
    return int(credits) - int(debits)
