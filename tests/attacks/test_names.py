"""Attack: register a name that displays as another (direction overrides, zero-width characters,
invisible-only names) on every endpoint that takes a text shown to someone else.

The promise (gateway/api/schemas.py, `shown_text`): every such text is normalised to NFC, and one
with a format character (Unicode category Cf), a line or paragraph separator, an invisible
letter, or nothing legible is refused with a 422 whose sentence names the field; nothing is
written. The sweep covers every Cf code point Python's Unicode database knows.
"""

from __future__ import annotations

import sys
import unicodedata

import pytest

from gateway.models import Cooperative, Member, Merchant, QrCode, User

FORMAT_CHARACTERS = [
    chr(code) for code in range(sys.maxunicode + 1) if unicodedata.category(chr(code)) == "Cf"
]
SPOOFS = {
    "right-to-left override": "Toko \u202eirS uB",
    "left-to-right override": "\u202dToko Bu Sri",
    "right-to-left embedding": "Toko \u202bBu Sri\u202c",
    "isolates": "Toko \u2066Bu\u2069 \u2067Sri\u2069 \u2068x\u2069",
    "zero-width space": "Toko\u200bBu Sri",
    "zero-width joiner": "Toko Bu\u200d Sri",
    "right-to-left mark": "Toko Bu Sri\u200f",
    "byte order mark": "\ufeffToko Bu Sri",
    "soft hyphen": "Toko Bu S\u00adri",
    "word joiner": "Toko\u2060Bu Sri",
    "only zero-width": "\u200b\u200c\u200d",
    "only direction marks": "\u200e\u200f\u061c",
    "only spaces": "   ",
    "only no-break and ideographic spaces": "\u00a0\u3000\u2003",
    "only hangul fillers": "\u3164\u3164",
    "a hangul filler inside": "Toko\u3164Sri",
    "only a braille blank": "\u2800",
    "only punctuation": "...",
    "only combining marks": "\u0301\u0302",
    "line separator": "Toko\u2028Bu Sri",
    "paragraph separator": "Toko Bu Sri\u2029",
    "tag characters": "Toko Bu Sri\U000e0041\U000e0042",
    "interlinear annotation": "Toko \ufff9Bu\ufffa Sri\ufffb",
}


@pytest.fixture
def setup(city):
    coop = city.make_cooperative("KSP")
    operator = city.make_staff("network_admin")
    admin = city.make_admin(coop)
    merchant = city.make_merchant(coop)
    return coop, operator, admin, merchant


def endpoints(coop, operator, admin, merchant):
    """(who, path, field, body with the field to be filled) for every text shown to someone."""
    member = {"phone": "081299990001", "name": "Siti", "pin": "246810"}
    shop = {
        "name": "Warung Bu Sri",
        "kind": "shop",
        "owner_phone": "081299990002",
        "owner_name": "Sri",
        "owner_pin": "135790",
    }
    return [
        (operator, "/api/v1/cooperatives", "name", {"code": "KNEW", "kind": "consumer"}),
        (admin, f"/api/v1/cooperatives/{coop}/members", "name", member),
        (admin, f"/api/v1/cooperatives/{coop}/merchants", "name", shop),
        (admin, f"/api/v1/cooperatives/{coop}/merchants", "owner_name", shop),
        (merchant, f"/api/v1/merchants/{merchant.id}/qr", "reference", {"amount": 5_000}),
    ]


def written(city) -> dict:
    return {model.__name__: city.count(model) for model in (Cooperative, User, Member, Merchant)}


def qr_codes(city) -> int:
    return city.count(QrCode)


def test_no_name_with_format_characters_or_nothing_legible_is_registered(setup, city):
    coop, operator, admin, merchant = setup
    before, codes_before = written(city), qr_codes(city)
    accepted, refusals = [], []
    for who, path, field, body in endpoints(coop, operator, admin, merchant):
        texts = {f"U+{ord(c):04X}": f"Toko {c}Bu Sri" for c in FORMAT_CHARACTERS}
        texts |= SPOOFS
        for label, text in texts.items():
            response = city.post(who, path, {**body, field: text})
            if response.status_code == 422:
                refusals.append((field, response.get_json()))
            else:
                accepted.append((path.rsplit("/", 1)[-1], field, label, response.status_code))
    assert accepted == [], f"{len(accepted)} accepted, for example {accepted[:3]}"
    for field, problem in refusals:
        assert problem["type"] == "https://interkop.id/problems/validation-failed"
        assert [error["field"] for error in problem["errors"]] == [field], problem
        assert problem["detail"].startswith(f"Kolom {field} "), problem
    assert written(city) == before
    assert qr_codes(city) == codes_before
    assert len(FORMAT_CHARACTERS) > 150  # the sweep really covered category Cf


def test_the_refusal_is_a_sentence_in_english_too(setup, city):
    coop, operator, admin, merchant = setup
    refusals = {
        "Toko \u202eirS uB": "must not contain invisible formatting characters (text direction"
        " controls, zero-width characters).",
        "\u3000 ": "must contain a letter or a digit.",
    }
    for who, path, field, body in endpoints(coop, operator, admin, merchant):
        for text, sentence in refusals.items():
            response = city.client.post(
                path,
                json={**body, field: text},
                headers={**city.headers(who, f"key-{field}-{len(text)}"), "Accept-Language": "en"},
            )
            assert response.status_code == 422
            assert response.get_json()["detail"] == f"The field {field} {sentence}"


def test_names_are_stored_in_nfc_and_ordinary_names_still_register(setup, city):
    coop, operator, admin, merchant = setup
    decomposed = "Warung Bu Se\u0301ri"  # e + combining acute
    response = city.post(
        admin,
        f"/api/v1/cooperatives/{coop}/merchants",
        {
            "name": decomposed,
            "kind": "shop",
            "owner_phone": "081299990002",
            "owner_name": "Ñoño O'Brien-Sri",
            "owner_pin": "135790",
        },
    )
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["name"] == unicodedata.normalize("NFC", decomposed)
    assert response.get_json()["name"] != decomposed
    ordinary = ("Koperasi Sejahtera 2", "Warung Padang Sederhana", "وارونگ", "李小龍", "Toko 😀")
    for index, name in enumerate(ordinary):
        response = city.post(
            admin,
            f"/api/v1/cooperatives/{coop}/members",
            {"phone": f"08129998000{index}", "name": name, "pin": "246810"},
        )
        assert response.status_code == 201, (name, response.get_json())
    assert city.ledger_problems() == []
