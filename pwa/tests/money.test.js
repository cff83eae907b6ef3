import { test } from "node:test";
import assert from "node:assert/strict";
import { amountFromDigits, formatRupiah, pressKey } from "../scripts/money.js";

test("rupiah is written with dots between thousands", () => {
  assert.equal(formatRupiah(27500), "Rp 27.500");
  assert.equal(formatRupiah(0), "Rp 0");
  assert.equal(formatRupiah(999), "Rp 999");
  assert.equal(formatRupiah(1000000), "Rp 1.000.000");
  assert.equal(formatRupiah(-4000), "-Rp 4.000");
});

test("a fraction of a rupiah is refused", () => {
  assert.throws(() => formatRupiah(1.5), TypeError);
  assert.throws(() => formatRupiah("100"), TypeError);
});

test("the keypad builds an amount digit by digit", () => {
  let digits = "";
  for (const key of ["0", "5", "000", "back", "0"]) digits = pressKey(digits, key);
  assert.equal(digits, "5000");
  assert.equal(amountFromDigits(digits), 5000);
  assert.equal(pressKey("12", "clear"), "");
  assert.equal(pressKey("12", "x"), "12");
  assert.equal(pressKey("1234567890", "1"), "1234567890");
  assert.equal(amountFromDigits(""), 0);
});
