"""The gateway's state machines and the one function that moves them: `transition`.

Settlement windows, payments (a refund is its payment's transition), dynamic QR codes, static
stickers, Idempotency-Keys, API clients, webhook endpoints, webhook deliveries and teller shifts
each have a table below: which state may follow which. Nothing else changes a status column.
`transition` is pretix's `OrderPayment.confirm`: it applies a change the table allows to the row
as the database holds it now, under the row's lock, never to what a session happens to have
loaded, and a repeat of a change already made is a no-op that says so, so that a use case writes
money only when its transition really happened.

It is one conditional UPDATE, `UPDATE … SET status = :to WHERE id = :id AND status IN (the states
the table allows :to from)`, which is itself a locked re-read and apply: on PostgreSQL it takes the
row lock and, if another transaction changed the row meanwhile, evaluates its WHERE again on the
committed row (so of twelve concurrent callers exactly one changes it); on SQLite the transaction
holds the database's write lock from BEGIN IMMEDIATE. Only when it changed nothing does it read the
row again, locked, to tell a repeat (False) from a change the table forbids (`TransitionRefused`,
409). The pay path's QR and Idempotency-Key transitions run as prepared hot statements.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Table, bindparam, or_, select, update
from sqlalchemy.orm import Session

from gateway.db import HotStatement, connection_of
from gateway.errors import GatewayError, NotFound
from gateway.models import (
    ApiClient,
    ApiClientStatus,
    IdempotencyKey,
    IdempotencyKeyState,
    Payment,
    PaymentStatus,
    QrCode,
    QrKind,
    QrStatus,
    SettlementWindow,
    ShiftStatus,
    ShuRun,
    ShuRunStatus,
    TellerShift,
    WindowStatus,
)
from gateway.models.webhooks import (
    DeliveryStatus,
    EndpointStatus,
    WebhookDelivery,
    WebhookEndpoint,
)


class TransitionRefused(GatewayError):
    status = 409
    slug = "transition-refused"
    title = "Not allowed in this state"
    message_id = "Tidak dapat dilakukan dalam keadaan ini."
    message_en = "This cannot be done in the current state."

    def __init__(self, machine: Machine, current: str, wanted: str) -> None:
        super().__init__(
            f"The {machine.name} is {current}: it cannot become {wanted}.",
            f"{machine.name_id.capitalize()} berstatus {current}: tidak dapat menjadi {wanted}.",
            state=current,
        )
        self.machine = machine
        self.current = current
        self.wanted = wanted


@dataclass(eq=False)
class Machine:
    """One state machine: the table and column it lives in, and which state may follow which."""

    name: str
    name_id: str
    table: Table
    transitions: dict[str, frozenset[str]]
    column: str = "status"
    # Rows of this machine only (a dynamic QR and a sticker share one table).
    scope: tuple[str, str] | None = None
    # Run as a prepared hot statement: the pay path's machines, whose values are plain.
    hot: bool = False
    _statements: dict = field(default_factory=dict, repr=False)

    def sources(self, wanted: str) -> list[str]:
        """The states the table allows `wanted` to follow, in a stable order."""
        return sorted(state for state, targets in self.transitions.items() if wanted in targets)

    def allows(self, current: str, wanted: str) -> bool:
        return wanted in self.transitions.get(current, frozenset())

    def _where(self):
        condition = self.table.c.id == bindparam("row_id")
        if self.scope is not None:
            scope_column, scope_value = self.scope
            condition = condition & (self.table.c[scope_column] == scope_value)
        return condition

    def _update(self, wanted: str, value_names: tuple[str, ...]):
        found = self._statements.get((wanted, value_names))
        if found is None:
            sources = self.sources(wanted)
            if not sources:
                raise ValueError(f"no transition of the {self.name} leads to {wanted!r}")
            state = self.table.c[self.column]
            statement = (
                update(self.table)
                .where(self._where(), or_(*(state == str(source) for source in sources)))
                .values(
                    {
                        self.column: str(wanted),
                        **{
                            name: bindparam(f"new_{name}", type_=self.table.c[name].type)
                            for name in value_names
                        },
                    }
                )
            )
            found = HotStatement(statement) if self.hot else statement
            self._statements[(wanted, value_names)] = found
        return found

    def _read_locked(self):
        found = self._statements.get("read")
        if found is None:
            statement = select(self.table.c[self.column]).where(self._where()).with_for_update()
            found = self._statements["read"] = HotStatement(statement) if self.hot else statement
        return found


SETTLEMENT_WINDOW = Machine(
    "settlement window",
    "jendela penyelesaian",
    SettlementWindow.__table__,
    {
        WindowStatus.OPEN: frozenset({WindowStatus.CLOSING}),
        WindowStatus.CLOSING: frozenset({WindowStatus.CLOSED}),
        WindowStatus.CLOSED: frozenset({WindowStatus.SETTLED}),
    },
)

# Each refund is a transition of its payment (a partial refund may follow a partial refund).
PAYMENT = Machine(
    "payment",
    "pembayaran",
    Payment.__table__,
    {
        PaymentStatus.COMPLETED: frozenset(
            {PaymentStatus.PARTIALLY_REFUNDED, PaymentStatus.REFUNDED}
        ),
        PaymentStatus.PARTIALLY_REFUNDED: frozenset(
            {PaymentStatus.PARTIALLY_REFUNDED, PaymentStatus.REFUNDED}
        ),
    },
)

# Expiry is a matter of time, not a state.
DYNAMIC_QR = Machine(
    "dynamic QR code",
    "kode QR dinamis",
    QrCode.__table__,
    {QrStatus.ACTIVE: frozenset({QrStatus.PAID, QrStatus.CANCELLED})},
    scope=("kind", QrKind.DYNAMIC.value),
    hot=True,
)

STATIC_QR = Machine(
    "QR sticker",
    "stiker QR",
    QrCode.__table__,
    {QrStatus.ACTIVE: frozenset({QrStatus.REVOKED})},
    scope=("kind", QrKind.STATIC.value),
    hot=True,
)

IDEMPOTENCY_KEY = Machine(
    "Idempotency-Key",
    "kunci idempotensi",
    IdempotencyKey.__table__,
    {IdempotencyKeyState.IN_FLIGHT: frozenset({IdempotencyKeyState.DONE})},
    column="state",
    hot=True,
)

# Revoking is for good; a rotation changes the secret, not the status.
API_CLIENT = Machine(
    "API client",
    "klien API",
    ApiClient.__table__,
    {ApiClientStatus.ACTIVE: frozenset({ApiClientStatus.REVOKED})},
)


# An admin disables and enables an endpoint (a receiver's 410 Gone disables it too); a deleted
# endpoint is kept for its deliveries' history but is never sent to again.
WEBHOOK_ENDPOINT = Machine(
    "webhook endpoint",
    "endpoint webhook",
    WebhookEndpoint.__table__,
    {
        EndpointStatus.ENABLED: frozenset({EndpointStatus.DISABLED, EndpointStatus.DELETED}),
        EndpointStatus.DISABLED: frozenset({EndpointStatus.ENABLED, EndpointStatus.DELETED}),
    },
)

# A delivery is pending (its retries are a schedule, not states) until one attempt succeeds or
# the schedule runs out; an admin's replay sends a delivered or failed one again.
WEBHOOK_DELIVERY = Machine(
    "webhook delivery",
    "pengiriman webhook",
    WebhookDelivery.__table__,
    {
        DeliveryStatus.PENDING: frozenset({DeliveryStatus.DELIVERED, DeliveryStatus.FAILED}),
        DeliveryStatus.DELIVERED: frozenset({DeliveryStatus.PENDING}),
        DeliveryStatus.FAILED: frozenset({DeliveryStatus.PENDING}),
    },
)

# A prepared SHU run is approved once, after the RAT; an approved run is locked for good.
SHU_RUN = Machine(
    "SHU run",
    "perhitungan SHU",
    ShuRun.__table__,
    {ShuRunStatus.DRAFT: frozenset({ShuRunStatus.APPROVED})},
)


# A teller counts the drawer and signs off: closed at once, or counted (past the cooperative's
# threshold) until a second admin signs off too.
TELLER_SHIFT = Machine(
    "teller shift",
    "shift kas",
    TellerShift.__table__,
    {
        ShiftStatus.OPEN: frozenset({ShiftStatus.COUNTED, ShiftStatus.CLOSED}),
        ShiftStatus.COUNTED: frozenset({ShiftStatus.CLOSED}),
    },
)


def transition(session: Session, machine: Machine, row_id: int, wanted: str, **values) -> bool:
    """Move row `row_id` of `machine` to state `wanted`, setting `values` with it, if the table
    allows it from the state the database holds now; return True if this call changed it.

    A repeat (the row is already `wanted` and the table has no loop there) returns False and
    changes nothing; a change the table forbids raises `TransitionRefused`. Runs in the caller's
    transaction: the row stays locked until it ends.
    """
    statement = machine._update(wanted, tuple(sorted(values)))
    params = {"row_id": row_id, **{f"new_{name}": value for name, value in values.items()}}
    if machine.hot:
        changed = statement.run(session, params)
    else:
        changed = connection_of(session).execute(statement, params).rowcount
    if changed == 1:
        return True
    current = state_of(session, machine, row_id)
    if current == wanted:
        return False
    raise TransitionRefused(machine, current, wanted)


def transition_many(
    session: Session, machine: Machine, row_ids: list[int], wanted: str, **values
) -> int:
    """Move each of `row_ids` to `wanted` (setting the same `values` on each) where the table
    allows it from the state the database holds now; return how many changed.

    `transition` for a batch, in one conditional UPDATE, for a caller that already holds the
    rows' locks and so knows what they hold (the webhook worker recording many deliveries).
    """
    if not row_ids:
        return 0
    sources = machine.sources(wanted)
    if not sources:
        raise ValueError(f"no transition of the {machine.name} leads to {wanted!r}")
    table = machine.table
    condition = table.c.id.in_(row_ids) & table.c[machine.column].in_([str(s) for s in sources])
    if machine.scope is not None:
        scope_column, scope_value = machine.scope
        condition = condition & (table.c[scope_column] == scope_value)
    statement = update(table).where(condition).values({machine.column: str(wanted), **values})
    return connection_of(session).execute(statement).rowcount


def state_of(session: Session, machine: Machine, row_id: int) -> str:
    """Read a row's state from the database, locked until the transaction ends."""
    statement = machine._read_locked()
    if machine.hot:
        row = statement.first(session, {"row_id": row_id})
    else:
        row = connection_of(session).execute(statement, {"row_id": row_id}).first()
    if row is None:
        raise NotFound(
            f"No such {machine.name}.", f"{machine.name_id.capitalize()} tidak ditemukan."
        )
    return row[0]
