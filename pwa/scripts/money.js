// Rupiah: integers only, written the Indonesian way ("Rp 27.500"). No DOM.

const GROUPS = /\B(?=(\d{3})+(?!\d))/g;

/** Format whole rupiah as "Rp 27.500" ("-Rp 4.000" below zero). */
export function formatRupiah(amount) {
  if (!Number.isSafeInteger(amount)) throw new TypeError(`not whole rupiah: ${amount}`);
  const digits = String(Math.abs(amount)).replace(GROUPS, ".");
  return `${amount < 0 ? "-" : ""}Rp ${digits}`;
}

/** Return the amount a keypad's digits spell, or 0; never more than `max`. */
export function amountFromDigits(digits, max = 1_000_000_000_000) {
  const clean = String(digits).replace(/\D/g, "").replace(/^0+/, "");
  if (!clean) return 0;
  const value = Number(clean);
  return Number.isSafeInteger(value) && value <= max ? value : max;
}

/** Apply one keypad key ("0"-"9", "000", "back", "clear") to the digits typed so far. */
export function pressKey(digits, key, maxLength = 10) {
  if (key === "back") return digits.slice(0, -1);
  if (key === "clear") return "";
  if (!/^\d+$/.test(key)) return digits;
  const next = (digits + key).replace(/^0+/, "");
  return next.length > maxLength ? digits : next;
}
