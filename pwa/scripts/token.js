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
