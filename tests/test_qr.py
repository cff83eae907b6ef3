"""Signed QR codes: every forged, stale or spent token is refused with its own problem type, both
by POST /api/v1/qr/verify and by POST /api/v1/payments, and a refused payment writes nothing."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import struct
import uuid
import xml.etree.ElementTree as ElementTree
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt
import pytest
import zxingcpp
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from freezegun import freeze_time
from sqlalchemy import select

from gateway import create_app, registry
from gateway.db import db
from gateway.errors import PROBLEM_BASE
from gateway.keys import KeyRing
from gateway.models import Payment, QrCode, Transfer, User
from gateway.qr import QR_AUDIENCE, QR_TOKEN_TYPE

# --- Helpers -----------------------------------------------------------------------------


def verify(city, member, token):
    return city.post(member, "/api/v1/qr/verify", {"token": token}, key=None)


def delete(city, person, path):
    return city.client.delete(path, headers=city.headers(person))


def problem_type(response) -> str:
    assert response.mimetype == "application/problem+json", response.get_data(as_text=True)
    return response.get_json()["type"].removeprefix(PROBLEM_BASE)


def written(city, member) -> tuple[int, int, int]:
    return city.count(Transfer), city.count(Payment), city.balance_of_member(member)


def assert_refused(city, member, token, slug, status=422, amount=None):
    """Both verify and pay refuse the token with `slug`, and the payment wrote nothing."""
    before = written(city, member)
    checked = verify(city, member, token)
    assert (checked.status_code, problem_type(checked)) == (status, slug), checked.get_json()
    paid = city.pay(member, token, amount=amount)
    assert (paid.status_code, problem_type(paid)) == (status, slug), paid.get_json()
    assert written(city, member) == before


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def claims_of(token: str) -> dict:
    return json.loads(unb64url(token.split(".")[1]))


def with_claims(token: str, **changes) -> str:
    """The token with its payload re-encoded (changed), and the original signature kept."""
    header, _, signature = token.split(".")
    claims = {**claims_of(token), **changes}
    payload = b64url(json.dumps(claims, separators=(",", ":")).encode())
    return f"{header}.{payload}.{signature}"


def compact(header: dict, claims: dict, sign) -> str:
    signing_input = (
        b64url(json.dumps(header, separators=(",", ":")).encode())
        + "."
        + b64url(json.dumps(claims, separators=(",", ":")).encode())
    )
    return signing_input + "." + b64url(sign(signing_input.encode()))


def forge(ring: KeyRing, claims: dict, typ: str = QR_TOKEN_TYPE) -> str:
    """Sign `claims` with the ring's real signing key: only what the claims say can be wrong."""
    key = ring.signing_key()
    return jwt.encode(
        claims, key.private_key, algorithm="EdDSA", headers={"kid": key.kid, "typ": typ}
    )


@dataclass
class Scene:
    coop: str
    teller: object
    siti: object
    shop: object


def scene(city, funds=1_000_000) -> Scene:
    coop = city.make_cooperative("KSM")
    teller = city.make_admin(coop)
    siti = city.make_member(coop)
    assert city.cash_in(teller, siti, funds).status_code == 201
    shop = city.make_merchant(coop, kind="shop", category="small")
    return Scene(coop, teller, siti, shop)


# --- Tampered, foreign and confused tokens -------------------------------------------------------


def test_a_token_with_a_changed_amount_merchant_or_expiry_is_refused(city):
    s = scene(city)
    other = city.make_merchant(s.coop)
    qr = city.issue_qr(s.shop, 60_000)
    claims = claims_of(qr["token"])

    assert_refused(city, s.siti, with_claims(qr["token"], amt=1_000), "qr-bad-signature")
    assert_refused(city, s.siti, with_claims(qr["token"], sub=other.id), "qr-bad-signature")
    assert_refused(
        city, s.siti, with_claims(qr["token"], exp=claims["exp"] + 3000), "qr-bad-signature"
    )
    assert_refused(city, s.siti, with_claims(qr["token"], name="Bank Resmi"), "qr-bad-signature")
    # The untouched token is fine and pays once.
    assert verify(city, s.siti, qr["token"]).status_code == 200
    assert city.pay(s.siti, qr["token"]).status_code == 201
    assert_refused(city, s.siti, qr["token"], "qr-already-paid", status=409)
    assert city.ledger_problems() == []


def test_garbage_is_not_an_interkop_qr(city):
    s = scene(city)
    for token in ("https://example.com/pay", "a.b.c", "x" * 100, "eyJhbGciOiJFZERTQSJ9.e30."):
        assert_refused(city, s.siti, token, "qr-malformed")


def test_a_token_signed_by_an_unknown_key_is_refused(app, city):
    s = scene(city)
    qr = city.issue_qr(s.shop, 60_000)
    claims = claims_of(qr["token"])
    stranger = Ed25519PrivateKey.generate()
    foreign = jwt.encode(
        claims,
        stranger,
        algorithm="EdDSA",
        headers={"kid": "20990101-deadbeef", "typ": QR_TOKEN_TYPE},
    )
    assert_refused(city, s.siti, foreign, "qr-unknown-key")
    # A stranger's key under our kid does not verify.
    kid = jwt.get_unverified_header(qr["token"])["kid"]
    impostor = jwt.encode(
        claims, stranger, algorithm="EdDSA", headers={"kid": kid, "typ": QR_TOKEN_TYPE}
    )
    assert_refused(city, s.siti, impostor, "qr-bad-signature")


def test_alg_none_and_hs256_with_the_public_key_are_refused(app, city):
    s = scene(city)
    qr = city.issue_qr(s.shop, 60_000)
    header = jwt.get_unverified_header(qr["token"])
    claims = claims_of(qr["token"])

    unsigned = compact({**header, "alg": "none"}, claims, lambda _: b"")
    assert unsigned.endswith(".")
    assert_refused(city, s.siti, unsigned, "qr-bad-signature")

    # The classic key confusion: HMAC with the published public key as the secret.
    public_key = app.extensions["keyring"].public_key(header["kid"])
    for secret in (
        public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
        public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw),
    ):
        confused = compact(
            {**header, "alg": "HS256"},
            claims,
            lambda data, secret=secret: hmac.digest(secret, data, hashlib.sha256),
        )
        assert_refused(city, s.siti, confused, "qr-bad-signature")
    assert city.pay(s.siti, qr["token"]).status_code == 201


def test_an_access_token_is_not_a_qr_and_a_qr_is_not_an_access_token(city):
    s = scene(city)
    qr = city.issue_qr(s.shop, 60_000)
    assert_refused(city, s.siti, city.token(s.siti), "qr-malformed")
    assert_refused(city, s.siti, city.token(s.shop), "qr-malformed")

    # Verified as a QR first, so that the key ring remembers it: as a QR, never as an access token.
    assert verify(city, s.siti, qr["token"]).status_code == 200
    as_bearer = {"Authorization": f"Bearer {qr['token']}"}
    response = city.client.post("/api/v1/qr/verify", json={"token": qr["token"]}, headers=as_bearer)
    assert (response.status_code, problem_type(response)) == (401, "invalid-token")
    response = city.client.post(
        "/api/v1/payments",
        json={"token": qr["token"], "pin": s.siti.pin},
        headers={**as_bearer, "Idempotency-Key": uuid.uuid4().hex},
    )
    assert (response.status_code, problem_type(response)) == (401, "invalid-token")
    response = city.client.get(f"/api/v1/members/{s.siti.id}/limits", headers=as_bearer)
    assert (response.status_code, problem_type(response)) == (401, "invalid-token")
    assert city.count(Payment) == 0


def test_claims_a_dynamic_qr_must_carry_are_checked_even_under_a_good_signature(app, city):
    s = scene(city)
    ring = app.extensions["keyring"]
    qr = city.issue_qr(s.shop, 60_000)
    claims = claims_of(qr["token"])

    # Ed25519 is deterministic: the real key over the real claims is the QR's own token, so what
    # `forge` makes below differs from a real token only by the claim named.
    assert forge(ring, claims) == qr["token"]
    # A QR the gateway never issued, though signed with its key, is not one.
    assert_refused(
        city, s.siti, forge(ring, {**claims, "jti": "qr_neverissued0000"}), "qr-bad-signature"
    )
    # An amount but no expiry.
    assert_refused(
        city, s.siti, forge(ring, {k: v for k, v in claims.items() if k != "exp"}), "qr-malformed"
    )
    # Another token type in the header (an access token's, or none).
    assert_refused(city, s.siti, forge(ring, claims, typ="at+jwt"), "qr-malformed")
    assert_refused(city, s.siti, forge(ring, claims, typ="JWT"), "qr-malformed")
    # Living longer than the longest TTL we issue.
    longest = app.config["QR_TTL_MAX_SECONDS"]
    assert_refused(
        city, s.siti, forge(ring, {**claims, "exp": claims["iat"] + longest + 1}), "qr-malformed"
    )
    # The amount must be a positive whole number of rupiah, in IDR.
    for bad in ({"amt": "60000"}, {"amt": 0}, {"amt": 60_000.5}, {"cur": "USD"}):
        assert_refused(city, s.siti, forge(ring, {**claims, **bad}), "qr-malformed")
    # Another audience or issuer.
    assert_refused(city, s.siti, forge(ring, {**claims, "aud": "interkop-api"}), "qr-malformed")
    assert_refused(city, s.siti, forge(ring, {**claims, "iss": "elsewhere"}), "qr-malformed")
    # The longest TTL itself is allowed: the QR issued for an hour pays.
    hour = city.issue_qr(s.shop, 60_000, ttl_seconds=longest)
    assert claims_of(hour["token"])["exp"] - claims_of(hour["token"])["iat"] == longest
    assert city.pay(s.siti, hour["token"]).status_code == 201


# --- Expiry -------------------------------------------------------------------------------------


def test_a_dynamic_qr_expires_at_the_end_of_its_ttl_with_no_leeway(app, city):
    start = datetime.now(UTC).replace(microsecond=0)
    with freeze_time(start) as frozen:
        s = scene(city)
        first = city.issue_qr(s.shop, 20_000)
        second = city.issue_qr(s.shop, 20_000)
        expires_at = datetime.fromisoformat(first["expires_at"])
        assert expires_at == start + timedelta(seconds=600)
        assert claims_of(first["token"])["exp"] == int(expires_at.timestamp())

        frozen.move_to(expires_at - timedelta(seconds=1))
        assert verify(city, s.siti, first["token"]).status_code == 200
        paid = city.pay(s.siti, first["token"])
        assert paid.status_code == 201, paid.get_json()

        # From `exp` on, as the merchant's screen says "kedaluwarsa".
        frozen.move_to(expires_at)
        assert_refused(city, s.siti, second["token"], "qr-expired")
        assert_refused(city, s.siti, first["token"], "qr-expired")
    assert city.count(Payment) == 1
    assert city.balance_of_member(s.siti) == 1_000_000 - 20_000


def test_a_static_sticker_does_not_expire(app, city):
    start = datetime.now(UTC).replace(microsecond=0)
    with freeze_time(start) as frozen:
        s = scene(city)
        sticker = city.static_qr(s.shop)
        assert "exp" not in claims_of(sticker["token"])
        frozen.move_to(start + timedelta(days=400))
        city._tokens.clear()  # the access tokens expired meanwhile: log in again
        assert city.pay(s.siti, sticker["token"], amount=10_000).status_code == 201


# --- Cancelled, revoked, paid -------------------------------------------------------------------


def test_a_cancelled_dynamic_qr_is_refused(city):
    s = scene(city)
    qr = city.issue_qr(s.shop, 30_000)
    first = delete(city, s.shop, f"/api/v1/qr/{qr['id']}")
    assert first.status_code == 200, first.get_json()
    assert first.get_json()["status"] == "cancelled"
    again = delete(city, s.shop, f"/api/v1/qr/{qr['id']}")
    assert again.status_code == 200 and again.get_json()["status"] == "cancelled"
    assert_refused(city, s.siti, qr["token"], "qr-cancelled")

    # Only its merchant can cancel it; a sticker cannot be cancelled.
    other = city.make_merchant(s.coop)
    mine = city.issue_qr(s.shop, 30_000)
    assert delete(city, other, f"/api/v1/qr/{mine['id']}").status_code == 404
    assert delete(city, s.siti, f"/api/v1/qr/{mine['id']}").status_code == 404
    sticker = city.static_qr(s.shop)
    refused = delete(city, s.shop, f"/api/v1/qr/{sticker['id']}")
    assert (refused.status_code, problem_type(refused)) == (422, "qr-invalid")

    # A paid QR cannot be cancelled, and stays paid.
    assert city.pay(s.siti, mine["token"]).status_code == 201
    refused = delete(city, s.shop, f"/api/v1/qr/{mine['id']}")
    assert (refused.status_code, problem_type(refused)) == (409, "qr-already-paid")
    with city.app.app_context():
        assert (
            db.session.scalar(select(QrCode.status).where(QrCode.public_id == mine["id"])) == "paid"
        )
    assert city.balance_of_merchant(s.shop) == 30_000 - 210
    assert city.ledger_problems() == []


def test_a_revoked_sticker_is_refused_and_its_successor_pays(city):
    s = scene(city)
    old = city.static_qr(s.shop)
    assert city.pay(s.siti, old["token"], amount=5_000, pin=None).status_code == 201
    rotated = city.post(s.shop, f"/api/v1/merchants/{s.shop.id}/static-qr/rotate", None, key=None)
    assert rotated.status_code == 201, rotated.get_json()
    new = rotated.get_json()
    assert new["id"] != old["id"] and new["token"] != old["token"] and new["status"] == "active"
    assert city.static_qr(s.shop)["id"] == new["id"]

    assert_refused(city, s.siti, old["token"], "qr-revoked", amount=5_000)
    assert city.pay(s.siti, new["token"], amount=5_000, pin=None).status_code == 201
    assert city.balance_of_member(s.siti) == 1_000_000 - 10_000
    assert city.ledger_problems() == []


# --- Amount, PIN --------------------------------------------------------------------------------


def test_a_dynamic_qr_takes_its_own_amount_and_a_pin_above_the_threshold(app, city):
    s = scene(city)
    qr = city.issue_qr(s.shop, 60_000)
    before = written(city, s.siti)

    mismatch = city.pay(s.siti, qr["token"], amount=60_001)
    assert (mismatch.status_code, problem_type(mismatch)) == (422, "amount-mismatch")
    assert mismatch.get_json()["qr_amount"] == 60_000

    # Above no_pin_max (Rp 50.000) the PIN is required.
    needs_pin = city.pay(s.siti, qr["token"], pin=None)
    assert (needs_pin.status_code, problem_type(needs_pin)) == (422, "pin-required")
    assert needs_pin.get_json()["no_pin_max"] == 50_000

    # A wrong PIN is refused and counts towards the lockout.
    attempts_max = app.config["PIN_ATTEMPTS_MAX"]
    for attempt in (1, 2):
        wrong = city.pay(s.siti, qr["token"], pin="000000")
        assert (wrong.status_code, problem_type(wrong)) == (403, "wrong-pin")
        assert wrong.get_json()["attempts_left"] == attempts_max - attempt
    with app.app_context():
        user = db.session.scalar(select(User).where(User.phone == s.siti.phone))
        assert user.failed_pin_attempts == 2
    assert written(city, s.siti) == before
    assert verify(city, s.siti, qr["token"]).status_code == 200  # still unpaid

    paid = city.pay(s.siti, qr["token"], amount=60_000)
    assert paid.status_code == 201, paid.get_json()
    with app.app_context():
        user = db.session.scalar(select(User).where(User.phone == s.siti.phone))
        assert user.failed_pin_attempts == 0

    # At the threshold itself no PIN is needed.
    at_threshold = city.issue_qr(s.shop, 50_000)
    assert city.pay(s.siti, at_threshold["token"], pin=None).status_code == 201
    assert city.balance_of_member(s.siti) == 1_000_000 - 110_000
    assert city.ledger_problems() == []


def test_wrong_pins_lock_the_payer_out(app, city):
    s = scene(city)
    qr = city.issue_qr(s.shop, 60_000)
    attempts_max = app.config["PIN_ATTEMPTS_MAX"]
    for _ in range(attempts_max - 1):
        assert city.pay(s.siti, qr["token"], pin="000000").status_code == 403
    locked = city.pay(s.siti, qr["token"], pin="000000")
    assert (locked.status_code, problem_type(locked)) == (423, "pin-locked")
    # Locked: even the right PIN is refused for now.
    still = city.pay(s.siti, qr["token"])
    assert (still.status_code, problem_type(still)) == (423, "pin-locked")
    assert city.count(Payment) == 0
    assert city.balance_of_member(s.siti) == 1_000_000


# --- Images -------------------------------------------------------------------------------------


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def png_to_greyscale(data: bytes) -> memoryview:
    """Decode a non-interlaced greyscale or palette PNG (what segno writes) into a 2-D buffer of
    grey bytes, the shape zxingcpp reads (no Pillow, no numpy)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    position, idat, palette = 8, b"", b""
    while position < len(data):
        length, kind = struct.unpack(">I4s", data[position : position + 8])
        body = data[position + 8 : position + 8 + length]
        position += 12 + length
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
        elif kind == b"PLTE":
            palette = body
        elif kind == b"IDAT":
            idat += body
    assert colour in (0, 3) and interlace == 0 and depth in (1, 2, 4, 8)
    raw = zlib.decompress(idat)
    stride = (width * depth + 7) // 8
    bpp = max(1, depth // 8)
    previous = bytearray(stride)
    pixels = bytearray()
    offset = 0
    for _ in range(height):
        filter_type = raw[offset]
        line = bytearray(raw[offset + 1 : offset + 1 + stride])
        offset += 1 + stride
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = previous[i]
            c = previous[i - bpp] if i >= bpp else 0
            predictor = (0, a, b, (a + b) // 2, _paeth(a, b, c))[filter_type]
            line[i] = (line[i] + predictor) & 0xFF
        previous = line
        top = (1 << depth) - 1
        for x in range(width):
            bit = x * depth
            value = (line[bit // 8] >> (8 - depth - bit % 8)) & top
            if colour == 3:
                red, green, blue = palette[3 * value : 3 * value + 3]
                pixels.append((red + green + blue) // 3)
            else:
                pixels.append(value * 255 // top)
    return memoryview(bytes(pixels)).cast("B", shape=(height, width))


def decode_qr_png(data: bytes) -> list[str]:
    image = png_to_greyscale(data)
    return [
        barcode.text
        for barcode in zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
    ]


def test_the_images_scan_back_to_the_qr_url(city):
    s = scene(city)
    qr = city.issue_qr(s.shop, 27_500, reference="INV-7")
    png = city.client.get(qr["png_url"])  # no login: the cashier's screen shows it
    assert png.status_code == 200 and png.mimetype == "image/png"
    assert decode_qr_png(png.data) == [qr["url"]]
    assert qr["url"] == f"http://gateway.test/pay#{qr['token']}"

    svg = city.client.get(qr["svg_url"])
    assert svg.status_code == 200 and svg.mimetype == "image/svg+xml"
    assert ElementTree.fromstring(svg.data).tag == "{http://www.w3.org/2000/svg}svg"

    sticker = city.static_qr(s.shop)
    assert decode_qr_png(city.client.get(sticker["png_url"]).data) == [sticker["url"]]
    printable = city.get(s.shop, f"/api/v1/merchants/{s.shop.id}/sticker.svg")
    assert printable.status_code == 200 and printable.mimetype == "image/svg+xml"
    root = ElementTree.fromstring(printable.data)
    texts = ["".join(node.itertext()) for node in root.iter("{http://www.w3.org/2000/svg}text")]
    with city.app.app_context():
        merchant_name = registry.get_merchant(db.session, s.shop.id).name
    assert merchant_name in texts and "Scan untuk bayar" in texts and "Koperasi KSM" in texts
    # Only the merchant gets the printable sticker; an unknown QR has no image.
    assert city.get(s.siti, f"/api/v1/merchants/{s.shop.id}/sticker.svg").status_code == 404
    assert city.client.get("/api/v1/qr/qr_nosuchcode.png").status_code == 404


def test_a_merchant_name_is_escaped_in_the_sticker(app, city):
    coop = city.make_cooperative("KSM")
    shop = city.make_merchant(coop)
    with app.app_context():
        merchant = registry.get_merchant(db.session, shop.id)
        merchant.name = 'Warung <Bu> "Tini" & Anak'
        db.session.commit()
    printable = city.get(shop, f"/api/v1/merchants/{shop.id}/sticker.svg")
    root = ElementTree.fromstring(printable.data)
    texts = ["".join(node.itertext()) for node in root.iter("{http://www.w3.org/2000/svg}text")]
    assert 'Warung <Bu> "Tini" & Anak' in texts


# --- JWKS ---------------------------------------------------------------------------------------


def test_the_jwks_publishes_the_key_that_verifies_a_qr(app, city):
    s = scene(city)
    qr = city.issue_qr(s.shop, 27_500)
    response = city.client.get("/.well-known/jwks.json")
    assert response.status_code == 200
    keys = response.get_json()["keys"]
    kid = jwt.get_unverified_header(qr["token"])["kid"]
    published = {key["kid"]: key for key in keys}
    assert kid in published
    for key in keys:
        assert {k: key[k] for k in ("kty", "crv", "use", "alg")} == {
            "kty": "OKP",
            "crv": "Ed25519",
            "use": "sig",
            "alg": "EdDSA",
        }
        assert "d" not in key
    claims = jwt.decode(
        qr["token"],
        jwt.PyJWK(published[kid]),
        algorithms=["EdDSA"],
        audience=QR_AUDIENCE,
        issuer=app.config["GATEWAY_ID"],
    )
    assert claims["sub"] == s.shop.id and claims["amt"] == 27_500 and claims["cur"] == "IDR"
    assert claims["jti"] == qr["id"] and claims["coop"] == s.coop
    # A tampered token does not verify with the published key either.
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(
            with_claims(qr["token"], amt=1),
            jwt.PyJWK(published[kid]),
            algorithms=["EdDSA"],
            audience=QR_AUDIENCE,
            issuer=app.config["GATEWAY_ID"],
        )


# --- Key rotation (a private key ring: the session's ring stays as it is) ----------------------


@pytest.fixture
def private_city(app, city, tmp_path):
    """A second app on the same database with a key ring of its own, to rotate and retire."""
    keys = tmp_path / "keys"
    KeyRing(keys).ensure()
    application = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": app.config["DATABASE_URL"],
            "KEYS_DIR": str(keys),
            "PIN_SCRYPT_N": app.config["PIN_SCRYPT_N"],
            "PUBLIC_URL": app.config["PUBLIC_URL"],
        }
    )
    yield type(city)(application, application.test_client())
    with application.app_context():
        db.session.remove()
        db.engine.dispose()


def test_a_retired_key_still_verifies_what_it_signed_and_the_new_key_signs(app, private_city):
    city = private_city
    ring = city.app.extensions["keyring"]
    assert ring.directory != app.extensions["keyring"].directory
    s = scene(city)
    driver = city.make_merchant(s.coop, kind="angkot", category="micro")
    old_kid = ring.signing_key().kid
    sticker = city.static_qr(driver)
    dynamic = city.issue_qr(s.shop, 60_000)
    assert jwt.get_unverified_header(sticker["token"])["kid"] == old_kid
    assert jwt.get_unverified_header(dynamic["token"])["kid"] == old_kid

    new_kid = ring.rotate()
    ring.retire(old_kid)
    assert ring.signing_key().kid == new_kid
    listed = ring.keys()
    retired = next(key for key in listed if key.kid == old_kid)
    assert retired.status == "retired" and retired.private_key is None
    published = {key["kid"] for key in city.client.get("/.well-known/jwks.json").get_json()["keys"]}
    assert published == {old_kid, new_kid}

    # What the retired key signed still verifies and pays (access tokens it signed still work).
    checked = verify(city, s.siti, sticker["token"])
    assert checked.status_code == 200, checked.get_json()
    assert city.pay(s.siti, sticker["token"], amount=5_000, pin=None).status_code == 201
    assert city.pay(s.siti, dynamic["token"]).status_code == 201
    # The sticker is not re-issued by a rotation of keys; the new key signs new tokens.
    assert city.static_qr(driver)["id"] == sticker["id"]
    fresh = city.issue_qr(s.shop, 10_000)
    assert jwt.get_unverified_header(fresh["token"])["kid"] == new_kid
    rotated = city.post(driver, f"/api/v1/merchants/{driver.id}/static-qr/rotate", None, key=None)
    assert jwt.get_unverified_header(rotated.get_json()["token"])["kid"] == new_kid
    city._tokens.clear()
    assert city.pay(s.siti, fresh["token"], pin=None).status_code == 201
    assert city.balance_of_member(s.siti) == 1_000_000 - 75_000
    assert city.ledger_problems() == []


# --- Limits -------------------------------------------------------------------------------------


def test_limits_left_shrink_with_each_payment_and_the_daily_maximum_refuses(city):
    s = scene(city, funds=2_000_000)
    path = f"/api/v1/members/{s.siti.id}/limits"
    start = city.get(s.siti, path).get_json()
    assert start["tier"] == "basic" and start["daily_max"] == 2_000_000
    assert start["daily_remaining"] == 2_000_000 and start["no_pin_max"] == 50_000

    assert city.pay(s.siti, city.issue_qr(s.shop, 27_500)["token"]).status_code == 201
    after = city.get(s.siti, path).get_json()
    assert after["daily_remaining"] == 2_000_000 - 27_500
    assert after["monthly_remaining"] == start["monthly_remaining"] - 27_500
    assert after["balance_room"] == 27_500

    before = written(city, s.siti)
    big = city.issue_qr(s.shop, 1_980_000)
    refused = city.pay(s.siti, big["token"])
    assert (refused.status_code, problem_type(refused)) == (422, "limit-exceeded")
    body = refused.get_json()
    assert body["limit"] == "daily_max" and body["limit_amount"] == 2_000_000
    assert body["remaining"] == 2_000_000 - 27_500
    assert written(city, s.siti) == before
    # The refused QR is still unpaid; the admin of the cooperative sees the same limits.
    assert verify(city, s.siti, big["token"]).status_code == 200
    assert city.get(s.teller, path).get_json()["daily_remaining"] == 2_000_000 - 27_500
    assert city.ledger_problems() == []
