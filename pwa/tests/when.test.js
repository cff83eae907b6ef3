import { test } from "node:test";
import assert from "node:assert/strict";
import { formatDate, formatDateTime, formatDay, formatMonth, formatTime } from "../scripts/when.js";

// 2026-12-03 07:05 UTC is 14:05 in Jakarta (UTC+7, no daylight saving).
const instant = "2026-12-03T07:05:00Z";

test("times are the Jakarta wall clock, one way per language", () => {
  assert.equal(formatTime(instant, "id"), "14.05");
  assert.equal(formatTime(instant, "en"), "14:05");
});

test("a Jakarta day may not be the UTC day", () => {
  // 18:30 UTC on the 2nd is 01:30 on the 3rd in Jakarta.
  assert.equal(formatDate("2026-12-02T18:30:00Z", "id"), "3 Des 2026");
  assert.equal(formatDate("2026-12-02T18:30:00Z", "en"), "3 Dec 2026");
});

test("date and time together, and a named day", () => {
  assert.equal(formatDateTime(instant, "id"), "3 Des 2026 14.05");
  assert.equal(formatDateTime(instant, "en"), "3 Dec 2026 14:05");
  assert.equal(formatDay("2026-12-03", "id"), "Kamis, 3 Des 2026");
  assert.equal(formatDay("2026-12-03", "en"), "Thursday, 3 Dec 2026");
});

test("an unknown language falls back to Bahasa Indonesia", () => {
  assert.equal(formatTime(instant, "fr"), "14.05");
});

test("a Jakarta day's month, named in each language", () => {
  assert.equal(formatMonth("2026-12-03", "id"), "Desember 2026");
  assert.equal(formatMonth("2026-11-30", "en"), "November 2026");
  assert.equal(formatMonth("2026-01-01", "id"), "Januari 2026");
});
