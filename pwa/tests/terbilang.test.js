import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { amountFromDigits } from "../scripts/money.js";
import { AMOUNT_MAX, inEnglishWords, spokenPayment, terbilang } from "../scripts/terbilang.js";

const EXAMPLES = [
  [0, "nol"],
  [1, "satu"],
  [9, "sembilan"],
  [10, "sepuluh"],
  [11, "sebelas"],
  [12, "dua belas"],
  [19, "sembilan belas"],
  [20, "dua puluh"],
  [21, "dua puluh satu"],
  [99, "sembilan puluh sembilan"],
  [100, "seratus"],
  [101, "seratus satu"],
  [110, "seratus sepuluh"],
  [111, "seratus sebelas"],
  [200, "dua ratus"],
  [999, "sembilan ratus sembilan puluh sembilan"],
  [1_000, "seribu"],
  [1_001, "seribu satu"],
  [1_100, "seribu seratus"],
  [1_500, "seribu lima ratus"],
  [2_000, "dua ribu"],
  [3_500, "tiga ribu lima ratus"],
  [5_000, "lima ribu"],
  [10_000, "sepuluh ribu"],
  [11_000, "sebelas ribu"],
  [12_500, "dua belas ribu lima ratus"],
  [27_500, "dua puluh tujuh ribu lima ratus"],
  [100_000, "seratus ribu"],
  [101_000, "seratus satu ribu"],
  [111_111, "seratus sebelas ribu seratus sebelas"],
  [999_999, "sembilan ratus sembilan puluh sembilan ribu sembilan ratus sembilan puluh sembilan"],
  [1_000_000, "satu juta"],
  [1_000_001, "satu juta satu"],
  [1_001_000, "satu juta seribu"],
  [1_100_000, "satu juta seratus ribu"],
  [2_750_000, "dua juta tujuh ratus lima puluh ribu"],
  [10_000_000, "sepuluh juta"],
  [100_000_000, "seratus juta"],
  [1_000_000_000, "satu miliar"],
  [1_001_001_001, "satu miliar satu juta seribu satu"],
  [11_000_000_000, "sebelas miliar"],
  [999_999_999_999, "sembilan ratus sembilan puluh sembilan miliar sembilan ratus sembilan puluh sembilan juta sembilan ratus sembilan puluh sembilan ribu sembilan ratus sembilan puluh sembilan"],
  [1_000_000_000_000, "satu triliun"],
];

test("the tricky numbers, as a soundbox says them", () => {
  for (const [amount, words] of EXAMPLES) assert.equal(terbilang(amount), words, String(amount));
});

test("the largest amount is the gateway's own, and the keypad's", () => {
  const python = readFileSync(new URL("../../gateway/money.py", import.meta.url), "utf8");
  const declared = Number(/^AMOUNT_MAX = ([\d_]+)$/m.exec(python)[1].replaceAll("_", ""));
  assert.equal(AMOUNT_MAX, declared);
  assert.equal(amountFromDigits("9".repeat(15)), AMOUNT_MAX);
  assert.equal(terbilang(AMOUNT_MAX), "satu triliun");
});

test("refuses what is not whole rupiah within the gateway's range", () => {
  for (const bad of [AMOUNT_MAX + 1, 2 ** 53, -1, -1000]) assert.throws(() => terbilang(bad), RangeError, String(bad));
  for (const bad of [1.5, 0.1, NaN, Infinity, -Infinity, "5000", null, undefined, 5000n, true]) {
    assert.throws(() => terbilang(bad), TypeError, String(bad));
    assert.throws(() => inEnglishWords(bad), TypeError, String(bad));
  }
  assert.throws(() => inEnglishWords(AMOUNT_MAX + 1), RangeError);
  assert.throws(() => spokenPayment(-5, "Dewi"), RangeError);
});

// An independent reader of the words, to check that every amount reads back as itself.
const VALUES = { nol: 0, satu: 1, dua: 2, tiga: 3, empat: 4, lima: 5, enam: 6, tujuh: 7, delapan: 8, sembilan: 9, sepuluh: 10, sebelas: 11, seratus: 100, seribu: 1000 };
const SCALES = { ribu: 1e3, juta: 1e6, miliar: 1e9, triliun: 1e12 };

function readIndonesian(text) {
  let total = 0;
  let group = 0;
  let last = 0;
  for (const word of text.split(" ")) {
    if (word in VALUES) {
      const value = VALUES[word];
      if (value === 1000) total += 1000;
      else group += value;
      last = value;
    } else if (word === "belas") {
      group += 10; // dua belas: 2 + 10
    } else if (word === "puluh") {
      group += last * 9;
    } else if (word === "ratus") {
      group += last * 99;
    } else if (word in SCALES) {
      total += group * SCALES[word];
      group = 0;
    } else {
      throw new Error(`unknown word ${word} in ${text}`);
    }
  }
  return total + group;
}

/** A small deterministic generator (mulberry32), for amounts spread over every size. */
function random(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function* sample() {
  for (let amount = 0; amount <= 20_000; amount += 1) yield amount;
  const next = random(11);
  for (let index = 0; index < 20_000; index += 1) {
    const digits = 1 + Math.floor(next() * 12);
    yield Math.floor(next() * 10 ** digits);
  }
  for (const power of [1e3, 1e6, 1e9]) {
    for (const k of [1, 2, 10, 11, 12, 100, 101, 110, 999]) yield* [k * power, k * power + 1, k * power + 1000];
  }
  yield AMOUNT_MAX;
}

test("every amount reads back as itself, with one word for each thing and no stray spaces", () => {
  const forbidden = /(^|juta |miliar |triliun )satu ribu\b|\bsatu (ratus|puluh|belas)\b|\bse (ribu|ratus|puluh|belas)\b|\bnol\b.|.\bnol\b|\bsepuluh (satu|dua|tiga|empat|lima|enam|tujuh|delapan|sembilan)\b/;
  for (const amount of sample()) {
    const words = terbilang(amount);
    assert.equal(readIndonesian(words), amount, `${amount} → ${words}`);
    assert.doesNotMatch(words, /\s\s|^\s|\s$/, `${amount} → "${words}"`);
    assert.doesNotMatch(words, forbidden, `${amount} → ${words}`);
    assert.match(words, /^[a-z]+( [a-z]+)*$/, `${amount} → ${words}`);
  }
});

test("every number from 0 to 2000: seribu not satu ribu, seratus not satu ratus, each distinct", () => {
  const seen = new Map();
  for (let amount = 0; amount <= 2000; amount += 1) {
    const words = terbilang(amount);
    assert.ok(!words.includes("  "), `${amount}: double space`);
    assert.ok(!words.includes("satu ribu") && !words.includes("satu ratus"), `${amount}: ${words}`);
    assert.ok(!seen.has(words), `${amount} and ${seen.get(words)} both say ${words}`);
    seen.set(words, amount);
    if (amount >= 1000 && amount < 2000) assert.ok(words.startsWith("seribu"), `${amount}: ${words}`);
  }
});

const ENGLISH = [
  [0, "zero"],
  [1, "one"],
  [12, "twelve"],
  [21, "twenty-one"],
  [100, "one hundred"],
  [110, "one hundred and ten"],
  [1_000, "one thousand"],
  [1_001, "one thousand and one"],
  [1_100, "one thousand one hundred"],
  [5_000, "five thousand"],
  [27_500, "twenty-seven thousand five hundred"],
  [100_000, "one hundred thousand"],
  [1_001_000, "one million one thousand"],
  [2_750_000, "two million seven hundred and fifty thousand"],
  [1_000_000_000, "one billion"],
  [AMOUNT_MAX, "one trillion"],
];

test("English words for the English app", () => {
  for (const [amount, words] of ENGLISH) assert.equal(inEnglishWords(amount), words, String(amount));
  for (const amount of sample()) assert.doesNotMatch(inEnglishWords(amount), /\s\s|^\s|\s$|\band and\b|\band$/, String(amount));
  const said = new Set();
  for (let amount = 0; amount <= 20_000; amount += 1) said.add(inEnglishWords(amount));
  assert.equal(said.size, 20_001, "no two amounts sound the same");
});

test("the spoken sentence follows the app's language", () => {
  assert.equal(spokenPayment(5_000, "Dewi"), "Diterima lima ribu rupiah dari Dewi");
  assert.equal(spokenPayment(5_000, "Dewi", "id"), "Diterima lima ribu rupiah dari Dewi");
  assert.equal(spokenPayment(2_750_000, "Budi Santoso", "id"), "Diterima dua juta tujuh ratus lima puluh ribu rupiah dari Budi Santoso");
  assert.equal(spokenPayment(5_000, "Dewi", "en"), "Received five thousand rupiah from Dewi");
  assert.equal(spokenPayment(1_000, "  ", "id"), "Diterima seribu rupiah");
  assert.equal(spokenPayment(1_000, null, "en"), "Received one thousand rupiah");
});
