"""The append-only audit trail: who did what, when, from where, and how it ended."""

from __future__ import annotations

import json

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.models import ApiClient, AuditEvent, Cooperative, User


def record(
    session: Session,
    action: str,
    *,
    actor_user_id: int | None = None,
    actor_client_id: int | None = None,
    cooperative_id: int | None = None,
    target: str | None = None,
    outcome: str = "ok",
    remote_address: str | None = None,
    detail: dict | None = None,
) -> None:
    """Append one audit event (the caller commits)."""
    session.add(
        AuditEvent(
            actor_user_id=actor_user_id,
            actor_client_id=actor_client_id,
            cooperative_id=cooperative_id,
            action=action,
            target=target,
            outcome=outcome,
            remote_address=remote_address,
            detail=json.dumps(detail, sort_keys=True) if detail else None,
        )
    )
    session.flush()


def cli_actor() -> dict:
    """Describe who ran a command-line action: the operating-system user and host."""
    import getpass
    import socket

    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return {"via": "cli", "os_user": user, "host": socket.gethostname()}


def events(
    session: Session, *, cooperative_id: int | None, before: int | None, limit: int
) -> list[dict]:
    """Return audit events newest first, for one cooperative or (None) all of them.

    `actor` is the person who acted (a user id), `client` the API client (a back office), if
    one did instead."""
    statement = (
        select(AuditEvent, User.public_id, ApiClient.public_id, Cooperative.public_id)
        .outerjoin(User, User.id == AuditEvent.actor_user_id)
        .outerjoin(ApiClient, ApiClient.id == AuditEvent.actor_client_id)
        .outerjoin(Cooperative, Cooperative.id == AuditEvent.cooperative_id)
        .order_by(AuditEvent.id.desc())
        .limit(limit)
    )
    if cooperative_id is not None:
        statement = statement.where(AuditEvent.cooperative_id == cooperative_id)
    if before is not None:
        statement = statement.where(AuditEvent.id < before)
    return [
        {
            "id": event.id,
            "action": event.action,
            "actor": actor,
            "client": client,
            "cooperative_id": cooperative,
            "target": event.target,
            "outcome": event.outcome,
            "remote_address": event.remote_address,
            "detail": json.loads(event.detail) if event.detail else None,
            "created_at": event.created_at.isoformat(),
        }
        for event, actor, client, cooperative in session.execute(statement)
    ]
