// Reading a scanned QR: the URL "{PUBLIC_URL}/pay#<token>" or a bare compact JWS. No DOM.
// Decoding here only shows what the QR claims; the gateway verifies the signature (POST /qr/verify).

const JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/** Return the token inside a scanned or pasted text, or null when there is none. */
export function tokenFromText(text) {
  const value = String(text ?? "").trim();
  if (!value) return null;
  const hash = value.indexOf("#");
  const candidate = hash >= 0 ? value.slice(hash + 1) : value;
  return JWS.test(candidate) ? candidate : null;
}

function base64UrlDecode(part) {
  const base64 = part.replace(/-/g, "+").replace(/_/g, "/");
  const padded = base64 + "=".repeat((4 - (base64.length % 4)) % 4);
  const binary = atob(padded);
  const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
  return new TextDecoder().decode(bytes);
}

/** Decode a compact JWS without verifying it: {header, claims}, or null if it is not one. */
export function decodeToken(token) {
  if (!JWS.test(String(token))) return null;
  const [header, payload] = token.split(".");
  try {
    return { header: JSON.parse(base64UrlDecode(header)), claims: JSON.parse(base64UrlDecode(payload)) };
  } catch {
    return null;
  }
}

/** Describe a QR from its claims: static (the payer types the amount) or dynamic. */
export function describeQr(claims) {
  const dynamic = typeof claims?.amt === "number";
  return {
    kind: dynamic ? "dynamic" : "static",
    merchantId: claims?.sub ?? null,
    name: claims?.name ?? "",
    amount: dynamic ? claims.amt : null,
    expiresAt: typeof claims?.exp === "number" ? claims.exp * 1000 : null,
  };
}

/** True when a QR whose claims say `exp` has expired at `now` (milliseconds). */
export function isExpired(claims, now = Date.now()) {
  return typeof claims?.exp === "number" && claims.exp * 1000 <= now;
}

/** Whole seconds left until `expiresAt` (milliseconds), never below zero. */
export function secondsLeft(expiresAt, now = Date.now()) {
  return Math.max(0, Math.ceil((expiresAt - now) / 1000));
}

/** "9:05" from seconds. */
export function formatCountdown(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

// --- A dynamic QR's time, as the merchant's and the payer's screens show it --------------------

/**
 * How long a sale screen keeps listening after its QR's `exp`. The gateway refuses a payment from
 * `exp` on by its own clock, but gateway machines may disagree by a few seconds (the gateway's
 * QR leeway, 5 s), and a payment accepted just in time still has to commit and reach the feed.
 */
export const SALE_LISTEN_AFTER_EXPIRY_MS = 10_000;

/**
 * The gateway's clock as this phone can know it: `gatewayMs`, an instant of the gateway's clock
 * seen at phone time `seenAtMs` (a fresh QR's `iat`, just received), then the phone's own time
 * passing. A phone whose clock is minutes off still counts a QR down as the gateway does; as
 * `iat` is whole seconds and the answer took a moment to arrive, this clock runs a little behind
 * the gateway's, never ahead, so the screen never calls a QR expired while it can still be paid.
 */
export function gatewayClock(gatewayMs, seenAtMs, now = () => Date.now()) {
  const offset = seenAtMs - gatewayMs;
  return () => now() - offset;
}

/**
 * What the merchant's sale screen shows at `nowMs` (gateway time) for a QR expiring at
 * `expiresAtMs`: "paid" whenever a payment of it has arrived; "cancelled"; "open" before `exp`
 * (the QR on screen, counting down); "checking" for SALE_LISTEN_AFTER_EXPIRY_MS from `exp` (the
 * QR off the screen, no new payment can start, one accepted just in time may still arrive);
 * "expired" after that.
 */
export function saleState({ expiresAtMs, nowMs, paid = false, cancelled = false }) {
  if (paid) return "paid";
  if (cancelled) return "cancelled";
  if (nowMs < expiresAtMs) return "open";
  if (nowMs < expiresAtMs + SALE_LISTEN_AFTER_EXPIRY_MS) return "checking";
  return "expired";
}

/** True when the payments (a merchant's feed) hold a payment of the QR `qrId`. */
export function paidWith(payments, qrId) {
  return (payments ?? []).some((payment) => payment.qr_id === qrId);
}

/** True while the payer may still tap "Bayar": a sticker always, a dynamic QR before `exp`. */
export function canPay(kind, expiresAtMs, nowMs = Date.now()) {
  return kind !== "dynamic" || (typeof expiresAtMs === "number" && nowMs < expiresAtMs);
}
