import { test } from "node:test";
import assert from "node:assert/strict";
import { canPay, decodeToken, describeQr, formatCountdown, gatewayClock, isExpired, paidWith, SALE_LISTEN_AFTER_EXPIRY_MS, saleState, secondsLeft, tokenFromText } from "../scripts/token.js";

function b64url(value) {
  return Buffer.from(JSON.stringify(value)).toString("base64url");
}
const claims = { iss: "interkop", sub: "mer_abc", coop: "coop_x", name: "Warung Sayur Pak Darmo", jti: "qr_1", iat: 1700000000, amt: 27500, cur: "IDR", exp: 1700000600 };
const token = `${b64url({ alg: "EdDSA", kid: "k1", typ: "interkop-qr+jwt" })}.${b64url(claims)}.c2ln`;

test("the token is read from the QR's URL or as it is", () => {
  assert.equal(tokenFromText(`https://pay.example/pay#${token}`), token);
  assert.equal(tokenFromText(`  ${token}\n`), token);
  assert.equal(tokenFromText("https://example.com/"), null);
  assert.equal(tokenFromText(""), null);
  assert.equal(tokenFromText("a.b"), null);
});

test("the payload decodes, names with non-ASCII letters included", () => {
  const named = `${b64url({ alg: "EdDSA" })}.${b64url({ name: "Kopi Ñusantara ☕" })}.x`;
  assert.equal(decodeToken(named).claims.name, "Kopi Ñusantara ☕");
  const decoded = decodeToken(token);
  assert.equal(decoded.header.typ, "interkop-qr+jwt");
  assert.deepEqual(decoded.claims, claims);
  assert.equal(decodeToken("not.a.jws!"), null);
  assert.equal(decodeToken("e30.bm90IGpzb24.x"), null);
});

test("a dynamic QR carries its amount and expiry; a sticker neither", () => {
  assert.deepEqual(describeQr(claims), { kind: "dynamic", merchantId: "mer_abc", name: "Warung Sayur Pak Darmo", amount: 27500, expiresAt: 1700000600000 });
  const sticker = describeQr({ sub: "mer_b", name: "Angkot 05", iat: 1 });
  assert.equal(sticker.kind, "static");
  assert.equal(sticker.amount, null);
  assert.equal(isExpired({ iat: 1 }, 9e15), false);
});

test("expiry and the countdown", () => {
  assert.equal(isExpired(claims, 1700000599000), false);
  assert.equal(isExpired(claims, 1700000600000), true);
  assert.equal(secondsLeft(10_500, 0), 11);
  assert.equal(secondsLeft(0, 5000), 0);
  assert.equal(formatCountdown(545), "9:05");
  assert.equal(formatCountdown(0), "0:00");
});

test("the gateway's clock is read from a fresh QR's iat, whatever the phone's clock says", () => {
  // The phone runs 2 minutes ahead: it received a QR issued at gateway second 1700000000.
  let phone = 1700000000_000 + 120_000 + 300;
  const clock = gatewayClock(1700000000_000, phone, () => phone);
  assert.equal(clock(), 1700000000_000);
  phone += 59_700;
  assert.equal(clock(), 1700000059_700);
});

test("the sale screen turns expired at exp, keeps listening, and shows a late payment as paid", () => {
  const expiresAtMs = 1700000600_000;
  const at = (nowMs, extra = {}) => saleState({ expiresAtMs, nowMs, ...extra });
  assert.equal(at(expiresAtMs - 1), "open");
  assert.equal(at(expiresAtMs), "checking");
  assert.equal(at(expiresAtMs + SALE_LISTEN_AFTER_EXPIRY_MS - 1), "checking");
  assert.equal(at(expiresAtMs + SALE_LISTEN_AFTER_EXPIRY_MS), "expired");
  // A payment accepted just before exp that arrives while the screen listens: LUNAS.
  assert.equal(at(expiresAtMs + 3_000, { paid: true }), "paid");
  assert.equal(at(expiresAtMs - 10_000, { cancelled: true }), "cancelled");
  assert.ok(SALE_LISTEN_AFTER_EXPIRY_MS >= 5_000, "at least the gateway's leeway");
  // Paid is found anywhere in a batch from the feed, not only as its last item.
  assert.equal(paidWith([{ qr_id: "qr_1" }, { qr_id: "qr_2" }], "qr_1"), true);
  assert.equal(paidWith([{ qr_id: "qr_2" }], "qr_1"), false);
  assert.equal(paidWith(undefined, "qr_1"), false);
});

test("the payer's Bayar is off from a dynamic QR's exp on; a sticker never runs out", () => {
  assert.equal(canPay("dynamic", 1700000600_000, 1700000599_999), true);
  assert.equal(canPay("dynamic", 1700000600_000, 1700000600_000), false);
  assert.equal(canPay("dynamic", 1700000600_000, 1700000601_000), false);
  assert.equal(canPay("dynamic", undefined, 0), false);
  assert.equal(canPay("static", null, 9e15), true);
});
