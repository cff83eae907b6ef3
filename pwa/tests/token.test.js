import { test } from "node:test";
import assert from "node:assert/strict";
import { decodeToken, describeQr, formatCountdown, isExpired, secondsLeft, tokenFromText } from "../scripts/token.js";

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
