"""The audit trail: every staff change is an event (who, what, when, from where, outcome), read by
the network operator whole and by a cooperative's admin for its cooperative; key rotation from the
command line is audited; the API offers no way to change an event; a changed limit policy holds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from conftest import base_config

from gateway import create_app
from gateway.db import db
from gateway.keys import KeyRing

VALID_RULE = {
    "categories": {
        "micro": {"bps": 0, "free_up_to": 0},
        "small": {"bps": 50},
        "regular": {"bps": 60},
    },
    "fee_min": 0,
    "fee_max": 10_000,
    "split_issuer_bps": 4_000,
    "split_acquirer_bps": 4_000,
    "split_network_bps": 2_000,
}

BASIC_LIMITS = {
    "payment_max": 2_000_000,
    "balance_max": 2_000_000,
    "incoming_monthly_max": 20_000_000,
    "daily_max": 2_000_000,
    "monthly_max": 20_000_000,
    "payments_per_minute": 10,
    "no_pin_max": 50_000,
}


def put(city, person, path, body, remote="127.0.0.1"):
    return city.client.put(
        path, json=body, headers=city.headers(person), environ_base={"REMOTE_ADDR": remote}
    )


def trail(city, person, query: str = "") -> list[dict]:
    response = city.get(person, f"/api/v1/audit{query}")
    assert response.status_code == 200, response.get_json()
    return response.get_json()["items"]


def only(events: list[dict], action: str) -> dict:
    found = [event for event in events if event["action"] == action]
    assert len(found) == 1, (action, [event["action"] for event in events])
    return found[0]


def test_every_staff_change_is_audited_with_actor_action_outcome_and_address(city):
    ksm = city.make_cooperative("KSM")
    kpp = city.make_cooperative("KPP")
    ksm_admin, kpp_admin = city.make_admin(ksm), city.make_admin(kpp)
    network = city.make_staff("network_admin")
    started = datetime.now(UTC) - timedelta(seconds=1)

    registered = city.client.post(
        f"/api/v1/cooperatives/{ksm}/members",
        json={"phone": "+6281277770001", "name": "Siti Aminah", "pin": "246810"},
        headers=city.headers(ksm_admin),
        environ_base={"REMOTE_ADDR": "203.0.113.7"},
    )
    assert registered.status_code == 201, registered.get_json()
    member = city.make_member(ksm)
    shop = city.make_merchant(ksm, kind="shop")
    assert city.cash_in(ksm_admin, member, 100_000).status_code == 201
    assert (
        city.pay_sticker(member, shop, 40_000).status_code == 201
    )  # a member's payment: not staff
    assert city.payout(ksm_admin, shop, 30_000).status_code == 201
    assert put(city, network, f"/api/v1/fee-schedules/{ksm}/{kpp}", VALID_RULE).status_code == 200
    assert (
        put(city, ksm_admin, f"/api/v1/limit-policies/{ksm}/basic", BASIC_LIMITS).status_code == 200
    )
    # Refusals are audited too, with their status.
    assert (
        put(
            city, kpp_admin, f"/api/v1/limit-policies/{ksm}/basic", BASIC_LIMITS, "198.51.100.9"
        ).status_code
        == 403
    )
    assert put(city, ksm_admin, f"/api/v1/fee-schedules/{ksm}/{kpp}", VALID_RULE).status_code == 403
    assert city.cash_in(ksm_admin, member, 0).status_code == 422
    closed = city.post(network, "/api/v1/settlement/windows/current/close", None, key=None)
    assert closed.status_code == 201, closed.get_json()
    window_id = closed.get_json()["id"]
    settled = city.post(network, f"/api/v1/settlement/windows/{window_id}/settle", None, key=None)
    assert settled.status_code == 200, settled.get_json()

    events = trail(city, network)
    ids = [event["id"] for event in events]
    assert ids == sorted(ids, reverse=True)  # newest first
    for event in events:
        assert started <= datetime.fromisoformat(event["created_at"]) <= datetime.now(UTC)

    register = only(events, "cooperatives.register_member")
    assert (register["actor"], register["cooperative_id"], register["outcome"]) == (
        ksm_admin.user_id,
        ksm,
        "ok",
    )
    assert register["remote_address"] == "203.0.113.7"
    assert register["target"] == ksm
    assert register["detail"] == {"method": "POST", "path": f"/api/v1/cooperatives/{ksm}/members"}

    cash_ins = [event for event in events if event["action"] == "counter.cash_in"]
    assert sorted(event["outcome"] for event in cash_ins) == ["ok", "refused 422"]
    assert {event["actor"] for event in cash_ins} == {ksm_admin.user_id}
    payout = only(events, "counter.payout")
    assert (payout["actor"], payout["cooperative_id"], payout["outcome"]) == (
        ksm_admin.user_id,
        ksm,
        "ok",
    )
    assert payout["remote_address"] == "127.0.0.1"

    fee_changes = [event for event in events if event["action"] == "fees.put_schedule"]
    assert sorted((event["actor"], event["outcome"]) for event in fee_changes) == sorted(
        [(network.user_id, "ok"), (ksm_admin.user_id, "refused 403")]
    )
    assert {event["target"] for event in fee_changes} == {f"{ksm},{kpp}"}

    limit_changes = {
        event["actor"]: event for event in events if event["action"] == "limits.put_policy"
    }
    assert limit_changes[ksm_admin.user_id]["outcome"] == "ok"
    assert limit_changes[ksm_admin.user_id]["target"] == f"{ksm},basic"
    refused = limit_changes[kpp_admin.user_id]
    assert (refused["outcome"], refused["cooperative_id"], refused["remote_address"]) == (
        "refused 403",
        kpp,
        "198.51.100.9",
    )

    close = only(events, "settlement.close")
    assert (close["actor"], close["target"], close["outcome"]) == (network.user_id, window_id, "ok")
    settle = only(events, "settlement.settle")
    assert (settle["actor"], settle["target"], settle["outcome"]) == (
        network.user_id,
        window_id,
        "ok",
    )
    assert only(events, "settlement.settle_window")["outcome"] == "ok"

    # Nothing a member or a merchant does is a staff action; nor does any event name a PIN.
    assert all(
        event["actor"] in {ksm_admin.user_id, kpp_admin.user_id, network.user_id}
        for event in events
    )
    text = city.get(network, "/api/v1/audit").get_data(as_text=True)
    assert "246810" not in text and "Siti Aminah" not in text  # no PIN, no person's name


def test_the_network_admin_reads_all_a_coop_admin_its_own_a_member_nothing(city):
    ksm = city.make_cooperative("KSM")
    kpp = city.make_cooperative("KPP")
    ksm_admin, kpp_admin = city.make_admin(ksm), city.make_admin(kpp)
    network = city.make_staff("network_admin")
    member = city.make_member(ksm)
    assert city.cash_in(ksm_admin, member, 10_000).status_code == 201
    assert city.cash_in(kpp_admin, member, 20_000).status_code == 201
    assert (
        put(city, kpp_admin, f"/api/v1/limit-policies/{kpp}/verified", {**BASIC_LIMITS}).status_code
        == 200
    )
    assert (
        put(city, network, "/api/v1/fee-schedules/default/default", VALID_RULE).status_code == 200
    )

    everything = trail(city, network)
    assert len(everything) == 4
    assert {event["cooperative_id"] for event in everything} == {ksm, kpp, None}

    ksm_view = trail(city, ksm_admin)
    assert [(e["action"], e["cooperative_id"]) for e in ksm_view] == [("counter.cash_in", ksm)]
    kpp_view = trail(city, kpp_admin)
    assert [(e["action"], e["cooperative_id"]) for e in kpp_view] == [
        ("limits.put_policy", kpp),
        ("counter.cash_in", kpp),
    ]

    # Paging: before= an event id gives the older ones.
    newest, *older = everything
    assert trail(city, network, f"?before={newest['id']}") == older
    assert trail(city, network, "?limit=1") == [newest]
    assert city.get(network, "/api/v1/audit?before=abc").status_code == 422

    for outsider in (member, city.make_staff("observer"), city.make_merchant(ksm)):
        assert city.get(outsider, "/api/v1/audit").status_code == 403
    assert city.client.get("/api/v1/audit").status_code == 401


def test_the_api_offers_no_way_to_change_or_delete_an_audit_event(city):
    ksm = city.make_cooperative("KSM")
    admin = city.make_admin(ksm)
    network = city.make_staff("network_admin")
    member = city.make_member(ksm)
    assert city.cash_in(admin, member, 10_000).status_code == 201
    before = trail(city, network)
    [event] = before
    headers = city.headers(network)
    for method in ("put", "patch", "delete", "post"):
        attempt = getattr(city.client, method)(
            "/api/v1/audit", json={"outcome": "ok"}, headers=headers
        )
        assert attempt.status_code == 405, (method, attempt.status_code)
        for path in (f"/api/v1/audit/{event['id']}", f"/api/v1/audit/{event['id']}/outcome"):
            attempt = getattr(city.client, method)(path, json={"outcome": "ok"}, headers=headers)
            assert attempt.status_code in (404, 405), (method, path, attempt.status_code)
    assert city.client.get(f"/api/v1/audit/{event['id']}", headers=headers).status_code == 404
    assert trail(city, network) == before


def test_key_rotation_from_the_command_line_is_audited(app, database_url, keys_dir, tmp_path, city):
    shared_before = {path.name: path.read_bytes() for path in Path(keys_dir).iterdir()}
    private_keys = tmp_path / "keys"
    KeyRing(private_keys).ensure()
    private = create_app(base_config(database_url, str(private_keys)))
    try:
        result = private.test_cli_runner().invoke(args=["keys", "rotate"])
        assert result.exit_code == 0, result.output
        kid = result.output.strip()
        assert kid
    finally:
        with private.app_context():
            db.session.remove()
            db.engine.dispose()
    assert {path.name: path.read_bytes() for path in Path(keys_dir).iterdir()} == shared_before

    network = city.make_staff("network_admin")
    rotation = only(trail(city, network), "keys.rotate")
    assert (rotation["target"], rotation["outcome"], rotation["cooperative_id"]) == (
        kid,
        "ok",
        None,
    )
    # From the command line there is no logged-in actor and no remote address.
    assert rotation["actor"] is None and rotation["remote_address"] is None


def test_a_lower_daily_limit_for_a_tier_takes_effect_for_that_cooperative_only(city):
    ksm = city.make_cooperative("KSM")
    kpp = city.make_cooperative("KPP")
    ksm_admin, kpp_admin = city.make_admin(ksm), city.make_admin(kpp)
    ani, bayu = city.make_member(ksm), city.make_member(kpp)
    verified = city.make_member(ksm, tier="verified")
    shop = city.make_merchant(ksm, kind="shop")
    for member, admin in ((ani, ksm_admin), (bayu, kpp_admin), (verified, ksm_admin)):
        assert city.cash_in(admin, member, 500_000).status_code == 201

    lowered = put(
        city,
        ksm_admin,
        f"/api/v1/limit-policies/{ksm}/basic",
        {**BASIC_LIMITS, "daily_max": 100_000},
    )
    assert lowered.status_code == 200, lowered.get_json()
    assert lowered.get_json()["limits"]["daily_max"] == 100_000
    # A coop admin cannot set another cooperative's limits, nor the city's; an unknown tier is 404.
    assert (
        put(city, kpp_admin, f"/api/v1/limit-policies/{ksm}/basic", BASIC_LIMITS).status_code == 403
    )
    assert (
        put(city, ksm_admin, "/api/v1/limit-policies/default/basic", BASIC_LIMITS).status_code
        == 403
    )
    assert (
        put(city, ksm_admin, f"/api/v1/limit-policies/{ksm}/gold", BASIC_LIMITS).status_code == 404
    )
    assert (
        put(
            city, ksm_admin, f"/api/v1/limit-policies/{ksm}/basic", {**BASIC_LIMITS, "daily_max": 0}
        ).status_code
        == 422
    )

    limits = city.get(ani, f"/api/v1/members/{ani.id}/limits").get_json()
    assert (limits["daily_max"], limits["daily_remaining"]) == (100_000, 100_000)
    assert city.pay_sticker(ani, shop, 60_000).status_code == 201
    refused = city.pay_sticker(ani, shop, 50_000)
    assert refused.status_code == 422, refused.get_json()
    problem = refused.get_json()
    assert problem["type"].endswith("/limit-exceeded")
    assert (problem["limit"], problem["limit_amount"], problem["remaining"]) == (
        "daily_max",
        100_000,
        40_000,
    )
    assert city.balance_of_member(ani) == 500_000 - 60_000
    assert city.pay_sticker(ani, shop, 40_000).status_code == 201  # exactly what is left

    # Another cooperative's basic members and this cooperative's verified ones keep their limits.
    assert city.pay_sticker(bayu, shop, 150_000).status_code == 201
    assert city.pay_sticker(verified, shop, 150_000).status_code == 201


def test_closing_and_settling_from_the_command_line_is_audited(city, runner):
    ksm = city.make_cooperative("KSM")
    admin = city.make_admin(ksm)
    member = city.make_member(ksm)
    assert city.cash_in(admin, member, 10_000).status_code == 201
    closed = runner.invoke(args=["settle", "close"])
    assert closed.exit_code == 0, closed.output
    network = city.make_staff("network_admin")
    window_id = city.get(network, "/api/v1/settlement/windows").get_json()["items"][1]["id"]
    settled = runner.invoke(args=["settle", "mark-settled", window_id])
    assert settled.exit_code == 0, settled.output

    events = trail(city, network)
    assert [(e["action"], e["target"], e["outcome"]) for e in events[:2]] == [
        ("settlement.settle", window_id, "ok"),
        ("settlement.close", window_id, "ok"),
    ]


def test_the_database_refuses_to_change_or_delete_an_audit_event(app, city):
    import sqlalchemy as sa

    from gateway import audit as audit_module
    from gateway.db import db, transaction

    with app.app_context():
        transaction(db.session, lambda s: audit_module.record(s, "test.event", target="x"))
        for statement in ("UPDATE audit_events SET outcome = 'forged'", "DELETE FROM audit_events"):
            try:
                db.session.execute(sa.text(statement))
                db.session.commit()
            except sa.exc.DBAPIError as error:
                db.session.rollback()
                assert "append-only" in str(error)
            else:
                raise AssertionError(f"{statement} was allowed")
        assert (
            db.session.scalar(
                sa.text("SELECT outcome FROM audit_events WHERE action = 'test.event'")
            )
            == "ok"
        )
