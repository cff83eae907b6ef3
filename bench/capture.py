"""Record the SQL one payment issues, as the gateway issues it: every statement with its
parameters and every BEGIN / COMMIT / ROLLBACK, from the request's first query to its last.

Runs one real `POST /api/v1/payments` in-process (Flask test client) against the bench database.
"""

from __future__ import annotations

import json
import uuid

from sqlalchemy import event

from bench import common


def mint_token(app, user_public_id: str, ttl_seconds: int = 24 * 3600) -> str:
    """An access token exactly as /auth/login issues it (without the scrypt PIN check)."""
    from gateway import auth

    class _User:
        public_id = user_public_id

    return auth.issue_access_token(
        app.extensions["keyring"], _User, app.config["GATEWAY_ID"], ttl_seconds
    )


def capture_payment(member_number: int, merchant: dict, amount: int) -> tuple[list[tuple], dict]:
    """Return ([(kind, sql, params)], response json) for one payment."""
    from gateway.db import db

    app = common.make_app()
    recorded: list[tuple] = []
    with app.app_context():
        engine = db.engine
    # No app context of our own around the requests: each request gets a fresh one (and a fresh
    # `g` and session), exactly as under gunicorn.
    if True:

        def on_execute(conn, cursor, statement, parameters, context, executemany):
            recorded.append(("many" if executemany else "sql", statement, parameters))

        def on_begin(conn):
            recorded.append(("begin", "BEGIN", None))

        def on_commit(conn):
            recorded.append(("commit", "COMMIT", None))

        def on_rollback(conn):
            recorded.append(("rollback", "ROLLBACK", None))

        client = app.test_client()
        token = mint_token(app, common.stable_id("usr", "u", member_number))
        # One payment first so that per-process caches (account kinds) are warm, as in a worker.
        for capture in (False, True):
            if capture:
                event.listen(engine, "before_cursor_execute", on_execute)
                event.listen(engine, "begin", on_begin)
                event.listen(engine, "commit", on_commit)
                event.listen(engine, "rollback", on_rollback)
            response = client.post(
                "/api/v1/payments",
                json={"token": merchant["token"], "amount": amount},
                headers={"Authorization": f"Bearer {token}", "Idempotency-Key": uuid.uuid4().hex},
            )
            if response.status_code != 201:
                raise SystemExit(
                    f"capture payment failed: {response.status_code} {response.get_json()}"
                )
        for name, listener in (
            ("before_cursor_execute", on_execute),
            ("begin", on_begin),
            ("commit", on_commit),
            ("rollback", on_rollback),
        ):
            event.remove(engine, name, listener)
    engine.dispose()
    return recorded, response.get_json()


if __name__ == "__main__":
    city = json.loads((common.RESULTS / "city.json").read_text())
    statements, body = capture_payment(7, city["merchants"][0], 12_500)
    for kind, sql, params in statements:
        print(kind, " ".join(sql.split()), params)
    print(len([s for s in statements if s[0] in ("sql", "many")]), "statements")
