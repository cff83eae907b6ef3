import assert from "node:assert/strict";
import test from "node:test";

import { bpsToPercent, importErrorLine, percentToBps, policyFromPercents } from "../scripts/shu.js";

test("percentages become basis points and back, in each language's decimal mark", () => {
  assert.equal(percentToBps("60"), 6000);
  assert.equal(percentToBps("60,5"), 6050);
  assert.equal(percentToBps(" 12.25 "), 1225);
  assert.equal(percentToBps("0"), 0);
  for (const bad of ["", "-1", "1,234", "abc", "60%", "1e2", "12345"]) assert.equal(percentToBps(bad), null, bad);
  assert.equal(bpsToPercent(6000), "60");
  assert.equal(bpsToPercent(6050), "60,5");
  assert.equal(bpsToPercent(1225, "en"), "12.25");
  assert.equal(bpsToPercent(5), "0,05");
});

test("a policy from the form says whether the split is the whole pool", () => {
  assert.deepEqual(policyFromPercents({ jasa_usaha_bps: "60", jasa_modal_bps: "40" }), {
    policy: { jasa_usaha_bps: 6000, jasa_modal_bps: 4000 },
    whole: true,
  });
  assert.equal(policyFromPercents({ jasa_usaha_bps: "60", jasa_modal_bps: "39,99" }).whole, false);
  assert.deepEqual(policyFromPercents({ jasa_usaha_bps: "x", jasa_modal_bps: "40" }), { invalid: "jasa_usaha_bps" });
});

test("a bad row of an import is told with its row and column", () => {
  const error = { row: 7, column: "nomor_hp", reason_id: "Anggota ini sudah ada di baris 2.", reason_en: "This member is already in row 2." };
  assert.equal(importErrorLine(error), "Baris 7, kolom nomor_hp: Anggota ini sudah ada di baris 2.");
  assert.equal(importErrorLine(error, "en"), "Row 7, column nomor_hp: This member is already in row 2.");
});
