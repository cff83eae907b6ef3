import { test } from "node:test";
import assert from "node:assert/strict";
import { compactNumber, monthLabel, niceMax, ticks } from "../scripts/chart.js";

test("the scale's top is a round number at or above the largest value", () => {
  assert.equal(niceMax(0), 1);
  assert.equal(niceMax(null), 1);
  assert.equal(niceMax(1), 1);
  assert.equal(niceMax(7), 10);
  assert.equal(niceMax(23), 25);
  assert.equal(niceMax(26_000), 50_000);
  assert.equal(niceMax(150_000), 200_000);
  assert.equal(niceMax(1_000_001), 2_000_000);
  for (const value of [3, 17, 99, 101, 4_321, 987_654]) assert.ok(niceMax(value) >= value);
});

test("gridlines split the scale evenly from zero", () => {
  assert.deepEqual(ticks(100), [0, 25, 50, 75, 100]);
  assert.deepEqual(ticks(10, 2), [0, 5, 10]);
});

test("axis labels are short, the Indonesian way or the English way", () => {
  assert.equal(compactNumber(0, "id"), "0");
  assert.equal(compactNumber(750, "id"), "750");
  assert.equal(compactNumber(2_500, "id"), "2,5 rb");
  assert.equal(compactNumber(1_500_000, "id"), "1,5 jt");
  assert.equal(compactNumber(1_500_000, "en"), "1.5M");
  assert.equal(compactNumber(3_000_000_000, "id"), "3 M");
  assert.equal(compactNumber(3_000_000_000, "en"), "3B");
});

test("a month reads as its short name, in Jakarta", () => {
  assert.equal(monthLabel("2026-01", "en"), "Jan 2026");
  assert.equal(monthLabel("2026-08", "id"), "Agu 2026");
  assert.equal(monthLabel("2026-12", "en", { short: true }), "Dec");
});

test("counts and shares read the way of the app's language", async () => {
  const { formatCount, formatShare } = await import("../scripts/backoffice.js");
  assert.equal(formatCount(1234567, "id"), "1.234.567");
  assert.equal(formatCount(1234567, "en"), "1,234,567");
  assert.equal(formatCount(12, "id"), "12");
  assert.equal(formatShare(1234, "id"), "12,3%");
  assert.equal(formatShare(1234, "en"), "12.3%");
  assert.equal(formatShare(10_000, "id", 0), "100%");
  assert.equal(formatShare(6667, "id"), "66,7%");
  assert.equal(formatShare(1235, "en"), "12.4%");
  assert.equal(formatShare(30, "id", 2), "0,30%");
});

test("the fee form's fields become the rule the gateway takes, whole numbers only", async () => {
  const { ruleFromFields } = await import("../scripts/OperatorHome.js");
  const rule = ruleFromFields({
    micro_bps: "30", micro_free_up_to: "500.000", small_bps: "70", regular_bps: "70",
    fee_min: "", fee_max: "", split_issuer_bps: "3500", split_acquirer_bps: "5000", split_network_bps: "1500",
  });
  assert.deepEqual(rule, {
    categories: { micro: { bps: 30, free_up_to: 500_000 }, small: { bps: 70, free_up_to: 0 }, regular: { bps: 70, free_up_to: 0 } },
    fee_min: 0,
    fee_max: null,
    split_issuer_bps: 3500,
    split_acquirer_bps: 5000,
    split_network_bps: 1500,
  });
  // Not a number: sent as null, which the gateway refuses with a sentence (never guessed here).
  assert.equal(JSON.parse(JSON.stringify(ruleFromFields({ micro_bps: "0,3" }))).categories.micro.bps, null);
});

test("the cooperative admin is offered only the screens the app has", async () => {
  const { offeredScreens } = await import("../scripts/CoopAdminHome.js");
  assert.deepEqual(offeredScreens(() => false), []);
  assert.deepEqual(offeredScreens((name) => name === "shu").map((link) => link.screen), ["shu"]);
  assert.deepEqual(offeredScreens(() => true).map((link) => link.screen), ["import", "shu", "shift"]);
});
