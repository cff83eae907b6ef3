// Rupiah in words, as a QRIS soundbox speaks them: "Diterima lima ribu rupiah dari Dewi".
// Indonesian the KBBI way (seribu, sebelas, seratus ribu, satu juta, miliar, triliun) and English
// for the English app. Whole rupiah from 0 to the gateway's largest amount only. No DOM.

/** The largest amount the gateway moves (gateway/money.py AMOUNT_MAX): Rp 1 triliun. */
export const AMOUNT_MAX = 1_000_000_000_000;

const SATUAN = ["nol", "satu", "dua", "tiga", "empat", "lima", "enam", "tujuh", "delapan", "sembilan"];
const SKALA = ["", "ribu", "juta", "miliar", "triliun"];

const ONES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"];
const TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"];
const SCALES = ["", "thousand", "million", "billion", "trillion"];

function checked(amount) {
  if (typeof amount !== "number" || !Number.isInteger(amount)) throw new TypeError(`not whole rupiah: ${amount}`);
  if (amount < 0 || amount > AMOUNT_MAX) throw new RangeError(`rupiah out of range 0..${AMOUNT_MAX}: ${amount}`);
  return amount;
}

/** Split into groups of three digits, lowest first: 2750000 → [0, 750, 2]. */
function groups(amount) {
  const parts = [];
  for (let rest = amount; rest > 0; rest = Math.floor(rest / 1000)) parts.push(rest % 1000);
  return parts;
}

function ratusan(n) {
  const words = [];
  const hundreds = Math.floor(n / 100);
  const rest = n % 100;
  if (hundreds === 1) words.push("seratus");
  else if (hundreds) words.push(SATUAN[hundreds], "ratus");
  if (rest === 10) words.push("sepuluh");
  else if (rest === 11) words.push("sebelas");
  else if (rest > 11 && rest < 20) words.push(SATUAN[rest % 10], "belas");
  else {
    const tens = Math.floor(rest / 10);
    if (tens) words.push(SATUAN[tens], "puluh");
    if (rest % 10) words.push(SATUAN[rest % 10]);
  }
  return words;
}

/** Whole rupiah in Indonesian words: 1000 → "seribu", 2750000 → "dua juta tujuh ratus lima puluh ribu". */
export function terbilang(amount) {
  if (checked(amount) === 0) return SATUAN[0];
  const words = [];
  groups(amount).forEach((value, scale) => {
    if (!value) return;
    // Only the thousands say "se-": seribu, but satu juta, satu miliar, satu triliun.
    const part = scale === 1 && value === 1 ? ["seribu"] : [...ratusan(value), SKALA[scale]];
    words.unshift(...part.filter(Boolean));
  });
  return words.join(" ");
}

function hundreds(n) {
  const words = [];
  if (n >= 100) words.push(ONES[Math.floor(n / 100)], "hundred");
  const rest = n % 100;
  if (!rest) return words;
  if (words.length) words.push("and");
  words.push(rest < 20 ? ONES[rest] : TENS[Math.floor(rest / 10)] + (rest % 10 ? `-${ONES[rest % 10]}` : ""));
  return words;
}

/** Whole rupiah in English words (British "and"): 110 → "one hundred and ten", 1001 → "one thousand and one". */
export function inEnglishWords(amount) {
  if (checked(amount) === 0) return ONES[0];
  const parts = groups(amount);
  const words = [];
  parts.forEach((value, scale) => {
    if (!value) return;
    const part = hundreds(value);
    // The last group below a hundred after a larger one: "two thousand and five".
    if (scale === 0 && value < 100 && parts.length > 1) part.unshift("and");
    words.unshift(...part, ...(SCALES[scale] ? [SCALES[scale]] : []));
  });
  return words.join(" ");
}

/** The sentence a soundbox speaks for a payment, in the app's language ("id" unless "en"). */
export function spokenPayment(amount, payerName, language = "id") {
  const name = String(payerName ?? "").trim();
  if (language === "en") return `Received ${inEnglishWords(amount)} rupiah${name ? ` from ${name}` : ""}`;
  return `Diterima ${terbilang(amount)} rupiah${name ? ` dari ${name}` : ""}`;
}
