"""The counter: a teller finds the member (by phone across the network, by name within the own
cooperative, by the member's card) and the merchant to pay out, and every counter event answers
with what a printed proof needs. The member's card QR."""

from __future__ import annotations

from urllib.parse import quote, urlencode

import pytest
from problems import assert_problem

from gateway import qr
from gateway.api.schemas import CounterReceipt, FoundMember, FoundMemberList, FoundMerchantList
from gateway.counter import FOUND_MAX, mask_phone, member_card_text

MEMBERS = "/api/v1/counter/members"
MERCHANTS = "/api/v1/counter/merchants"


def register(city, admin, coop_id: str, name: str, phone: str, tier: str = "basic") -> str:
    """Register a member with a name of our choosing, as the cooperative's admin."""
    response = city.post(
        admin,
        f"/api/v1/cooperatives/{coop_id}/members",
        {"phone": phone, "name": name, "pin": "123456", "tier": tier},
        key=None,
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def search(city, caller, path=MEMBERS, **query):
    return city.get(caller, f"{path}?{urlencode(query)}")


@pytest.fixture
def network(city):
    """Two cooperatives with a teller each, and Siti Rahayu, a member of the first."""
    ksm = city.make_cooperative("KSM")
    kpp = city.make_cooperative("KPP", kind="market_traders")
    ksm_teller, kpp_teller = city.make_admin(ksm), city.make_admin(kpp)
    siti = register(city, ksm_teller, ksm, "Siti Rahayu", "+6281299990003", tier="verified")
    return {
        "ksm": ksm,
        "kpp": kpp,
        "ksm_teller": ksm_teller,
        "kpp_teller": kpp_teller,
        "siti": siti,
    }


def test_a_teller_finds_a_member_of_another_cooperative_by_exact_phone(city, network):
    for typed in ("0812-9999-0003", "+6281299990003", "6281299990003", "0812 9999 0003"):
        response = search(city, network["kpp_teller"], phone=typed)
        assert response.status_code == 200, response.get_json()
        assert response.get_json() == {
            "items": [
                {
                    "id": network["siti"],
                    "name": "Siti Rahayu",
                    "cooperative": {"id": network["ksm"], "name": "Koperasi KSM"},
                    "tier": "verified",
                    "phone_masked": "+62812****0003",
                }
            ],
            "more": False,
        }


def test_what_a_teller_finds_never_shows_the_balance_or_the_whole_phone(city, network):
    member = city.make_member(network["ksm"])
    assert city.cash_in(network["ksm_teller"], member, 75_000).status_code == 201
    (found,) = search(city, network["kpp_teller"], phone=member.phone).get_json()["items"]
    assert set(found) == {"id", "name", "cooperative", "tier", "phone_masked"}
    assert member.phone not in str(found) and "75000" not in str(found)
    assert mask_phone("+6281200000003") == "+62812****0003"
    assert mask_phone("+628123456") == "+62812****56"  # short numbers show less of the end


def test_a_phone_with_no_member_finds_nobody(city, network):
    # An unknown number, and a merchant owner who is no member: an empty list, not a 404.
    owner = city.make_merchant(network["kpp"])
    for phone in ("081299999999", owner.phone):
        response = search(city, network["kpp_teller"], phone=phone)
        assert response.status_code == 200
        assert response.get_json() == {"items": [], "more": False}


def test_every_cooperative_of_the_network_is_a_partner_at_the_counter(city, network):
    """There is no list of partners: every cooperative registered in the network is one, so a
    teller finds (and serves) a member of each of them by phone."""
    others = [city.make_cooperative(code) for code in ("KAM", "KTS")]
    for coop in [network["ksm"], *others]:
        member = city.make_member(coop)
        (found,) = search(city, network["kpp_teller"], phone=member.phone).get_json()["items"]
        assert found["id"] == member.id and found["cooperative"]["id"] == coop
        assert city.cash_in(network["kpp_teller"], member, 10_000).status_code == 201


def test_a_name_search_covers_only_the_counters_own_cooperative(city, network):
    # Siti is a member of KSM: KPP's teller cannot find her by name, whatever part is typed.
    for typed in ("Siti", "rahayu", "iti Ra"):
        response = search(city, network["kpp_teller"], name=typed)
        assert response.status_code == 200
        assert response.get_json() == {"items": [], "more": False}
    # Her own cooperative's teller finds her by any part of the name, in any case.
    for typed in ("siti", "RAHAYU", "ti Ra", "  siti   rahayu "):
        (found,) = search(city, network["ksm_teller"], name=typed).get_json()["items"]
        assert found["id"] == network["siti"]
        assert found["cooperative"] == {"id": network["ksm"], "name": "Koperasi KSM"}


def test_a_name_search_lists_at_most_ten_in_name_order_and_says_there_are_more(city, network):
    teller = network["kpp_teller"]
    for number in range(FOUND_MAX + 2):
        register(
            city, teller, network["kpp"], f"Budi Nomor {number:02d}", f"+628130000{number:04d}"
        )
    body = search(city, teller, name="budi").get_json()
    assert [m["name"] for m in body["items"]] == [f"Budi Nomor {n:02d}" for n in range(FOUND_MAX)]
    assert body["more"] is True
    body = search(city, teller, name="Nomor 11").get_json()
    assert [m["name"] for m in body["items"]] == ["Budi Nomor 11"] and body["more"] is False


def test_a_name_search_takes_like_wildcards_literally(city, network):
    for typed in ("%%%", "___", "S%i", "Si_i"):
        assert search(city, network["ksm_teller"], name=typed).get_json()["items"] == []


@pytest.mark.parametrize(
    "query",
    [
        "",
        "phone=081200000003&name=siti",
        "name=si",
        "name=%20%20s%20",
        "name=" + "a" * 121,
        "phone=12345",
        "phone=0812abc",
        "phone=08120000000300000000",
        "nama=siti",
        "name=si%00ti",
    ],
)
def test_a_bad_search_is_refused_with_422(city, network, query):
    problem = assert_problem(
        city.get(network["ksm_teller"], f"{MEMBERS}?{query}"), 422, "validation-failed"
    )
    assert problem["detail"]


def test_a_short_name_is_refused_with_a_sentence_for_the_teller(city, network):
    response = city.client.get(
        f"{MEMBERS}?name=si",
        headers={**city.headers(network["ksm_teller"]), "Accept-Language": "en"},
    )
    assert assert_problem(response, 422, "validation-failed")["detail"] == (
        "Type at least 3 letters of the name."
    )


def test_only_a_teller_may_search_and_only_at_their_own_counter(city, network):
    member = city.make_member(network["ksm"])
    owner = city.make_merchant(network["ksm"])
    for stranger in (member, owner, city.make_staff("network_admin"), city.make_staff("observer")):
        assert_problem(search(city, stranger, phone="081200000003"), 403, "forbidden")
        assert_problem(city.get(stranger, f"{MEMBERS}/{network['siti']}"), 403, "forbidden")
        assert_problem(search(city, stranger, path=MERCHANTS, name="Merchant"), 403, "forbidden")
    # A teller of KPP naming KSM's counter.
    assert_problem(
        search(
            city, network["kpp_teller"], phone="081200000003", counter_cooperative_id=network["ksm"]
        ),
        403,
        "forbidden",
    )
    assert city.client.get(f"{MEMBERS}?phone=081200000003").status_code == 401


def test_a_scanned_card_finds_its_member_in_any_cooperative(city, network):
    response = city.get(network["kpp_teller"], f"{MEMBERS}/{network['siti']}")
    assert response.status_code == 200
    assert response.get_json()["name"] == "Siti Rahayu"
    assert response.get_json()["cooperative"]["id"] == network["ksm"]
    assert "balance" not in response.get_json()
    for unknown in ("mem_nosuchmember0000", quote("interkop:member:x"), "x" * 40):
        assert_problem(city.get(network["kpp_teller"], f"{MEMBERS}/{unknown}"), 404, "not-found")


def test_a_teller_finds_an_own_merchant_to_pay_out_by_owner_phone_or_name(city, network):
    shop = city.make_merchant(network["kpp"], kind="shop", category="small")
    foreign = city.make_merchant(network["ksm"])
    (found,) = search(city, network["kpp_teller"], path=MERCHANTS, phone=shop.phone).get_json()[
        "items"
    ]
    assert found == {
        "id": shop.id,
        "name": f"Merchant {shop.phone[-4:]}",
        "kind": "shop",
        "category": "small",
        "cooperative": {"id": network["kpp"], "name": "Koperasi KPP"},
        "owner_name": "Pemilik",
        "owner_phone_masked": mask_phone(shop.phone),
    }
    by_name = search(city, network["kpp_teller"], path=MERCHANTS, name="merchant").get_json()
    assert [m["id"] for m in by_name["items"]] == [shop.id]
    # Another cooperative's merchant is paid out only there: KPP's counter does not find it.
    for query in ({"phone": foreign.phone}, {"name": f"Merchant {foreign.phone[-4:]}"}):
        body = search(city, network["kpp_teller"], path=MERCHANTS, **query).get_json()
        assert body == {"items": [], "more": False}
    assert_problem(search(city, network["kpp_teller"], path=MERCHANTS), 422, "validation-failed")


def test_counter_receipts_carry_what_a_printed_proof_needs(city, network):
    teller = network["kpp_teller"]
    siti = city.make_member(network["ksm"], pin="123456")
    response = city.cash_in(teller, siti, 100_000, key="bukti-setor-1")
    assert response.status_code == 201, response.get_json()
    receipt = response.get_json()
    assert receipt["kind"] == "cash_in"
    assert receipt["amount"] == 100_000 and receipt["balance"] == 100_000
    assert receipt["member"] == {
        "id": siti.id,
        "name": "Anggota",
        "cooperative": {"id": network["ksm"], "name": "Koperasi KSM"},
    }
    assert receipt["counter"] == {"id": network["kpp"], "name": "Koperasi KPP"}
    assert receipt["teller"] == {"name": "Admin"}
    assert receipt["event_id"].startswith("evt_") and receipt["created_at"]
    assert "merchant" not in receipt
    # A retry with the same key answers the same proof, and moves no money.
    again = city.cash_in(teller, siti, 100_000, key="bukti-setor-1")
    assert again.get_json() == receipt and again.headers["Idempotent-Replayed"] == "true"

    out = city.cash_out(teller, siti, 30_000).get_json()
    assert (out["kind"], out["amount"], out["balance"]) == ("cash_out", 30_000, 70_000)
    assert out["member"]["name"] == "Anggota" and out["counter"]["id"] == network["kpp"]

    shop = city.make_merchant(network["kpp"])
    assert city.pay_sticker(siti, shop, 20_000).status_code == 201
    paid_out = city.payout(teller, shop, 19_000).get_json()
    assert paid_out["kind"] == "payout" and paid_out["amount"] == 19_000
    assert paid_out["merchant"] == {
        "id": shop.id,
        "name": f"Merchant {shop.phone[-4:]}",
        "cooperative": {"id": network["kpp"], "name": "Koperasi KPP"},
    }
    assert paid_out["balance"] == city.balance_of_merchant(shop)
    assert "member" not in paid_out
    assert city.ledger_problems() == []


def test_the_member_gets_their_own_card_qr(city, network):
    member = city.make_member(network["ksm"])
    response = city.get(member, f"/api/v1/members/{member.id}/card.svg")
    assert response.status_code == 200
    assert response.mimetype == "image/svg+xml"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.get_data() == qr.render_svg(f"interkop:member:{member.id}")
    assert member_card_text(member.id) == f"interkop:member:{member.id}"
    # Nobody else gets it, not even the cooperative's admin: 404, as for an unknown member.
    other = city.make_member(network["ksm"])
    for stranger in (other, network["ksm_teller"]):
        response = city.get(stranger, f"/api/v1/members/{member.id}/card.svg")
        assert_problem(response, 404, "not-found")
    assert city.client.get(f"/api/v1/members/{member.id}/card.svg").status_code == 401


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_answers_are_what_the_openapi_document_says(city, network):
    """Each answer validates against the model the document publishes for it."""
    teller, siti = network["kpp_teller"], network["siti"]
    FoundMemberList.model_validate(
        search(city, teller, phone="081299990003").get_json(), strict=True
    )
    FoundMember.model_validate(city.get(teller, f"{MEMBERS}/{siti}").get_json(), strict=True)
    shop = city.make_merchant(network["kpp"])
    found = search(city, teller, path=MERCHANTS, phone=shop.phone).get_json()
    FoundMerchantList.model_validate(found, strict=True)
    member = city.make_member(network["ksm"])
    CounterReceipt.model_validate(city.cash_in(teller, member, 5_000).get_json(), strict=True)
    spec = city.client.get("/api/v1/openapi.json").get_json()
    receipt = spec["components"]["schemas"]["CounterReceipt"]
    assert {"amount", "balance", "counter", "teller"} <= set(receipt["required"])
    assert {"member", "merchant"} <= set(receipt["properties"])
    assert "balance" not in spec["components"]["schemas"]["FoundMember"]["properties"]
    search_operation = spec["paths"][MEMBERS]["get"]
    assert {p["name"] for p in search_operation["parameters"]} == {
        "phone",
        "name",
        "counter_cooperative_id",
    }
    card = spec["paths"]["/api/v1/members/{member_id}/card.svg"]["get"]
    assert "image/svg+xml" in card["responses"]["200"]["content"]
