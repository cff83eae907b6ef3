import { test } from "node:test";
import assert from "node:assert/strict";
import { shortWhen } from "../scripts/History.js";

// 2026-12-03 07:05 UTC is 14:05 in Jakarta.
const instant = "2026-12-03T07:05:00Z";

test("a payment of today shows its time, one of another day its date too", () => {
  assert.equal(shortWhen(instant, "id", new Date("2026-12-03T16:59:00Z")), "14.05");
  assert.equal(shortWhen(instant, "en", new Date("2026-12-02T17:00:00Z")), "14:05"); // 00:00 on the 3rd in Jakarta
  assert.equal(shortWhen(instant, "id", new Date("2026-12-03T17:00:00Z")), "3 Des 2026 14.05"); // the 4th in Jakarta
  assert.equal(shortWhen(instant, "en", new Date("2026-12-02T16:59:00Z")), "3 Dec 2026 14:05");
});
