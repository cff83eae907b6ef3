import { test } from "node:test";
import assert from "node:assert/strict";
import { createStore, homeFor, jakartaDay, mergePayments, shiftDay } from "../scripts/state.js";
import { preferredLanguage, STRINGS, translator } from "../scripts/i18n.js";

test("the store tells its subscribers of every change", () => {
  const store = createStore({ a: 1, b: 2 });
  const seen = [];
  const stop = store.subscribe((state) => seen.push(state.a));
  store.set({ a: 3 });
  store.set((state) => ({ a: state.a + 1 }));
  stop();
  store.set({ a: 10 });
  assert.deepEqual(seen, [3, 4]);
  assert.deepEqual(store.get(), { a: 10, b: 2 });
});

test("days are Jakarta days, not UTC days", () => {
  assert.equal(jakartaDay("2025-01-31T16:59:59Z"), "2025-01-31");
  assert.equal(jakartaDay("2025-01-31T17:00:00Z"), "2025-02-01");
  assert.equal(jakartaDay("2025-01-31T18:00:00+00:00"), "2025-02-01");
});

test("a day before or after, across months, years and leap days", () => {
  assert.equal(shiftDay("2025-01-31", 1), "2025-02-01");
  assert.equal(shiftDay("2025-03-01", -1), "2025-02-28");
  assert.equal(shiftDay("2024-03-01", -1), "2024-02-29");
  assert.equal(shiftDay("2026-01-01", -1), "2025-12-31");
  assert.equal(shiftDay("2026-12-03", 0), "2026-12-03");
});

test("fresh payments merge newest first without duplicates", () => {
  const list = [{ id: "b", created_at: "2025-01-02" }, { id: "a", created_at: "2025-01-01" }];
  const merged = mergePayments(list, [{ id: "c", created_at: "2025-01-03" }, { id: "b", created_at: "2025-01-02" }]);
  assert.deepEqual(merged.map((p) => p.id), ["c", "b", "a"]);
});

test("each login lands on its own home", () => {
  assert.equal(homeFor(null), "login");
  assert.equal(homeFor({ admin_cooperative_ids: ["coop_1"], merchant_ids: [] }), "counter");
  assert.equal(homeFor({ admin_cooperative_ids: [], merchant_ids: ["mer_1"], member_id: "mem_1" }), "merchant");
  assert.equal(homeFor({ admin_cooperative_ids: [], merchant_ids: [], member_id: "mem_1" }), "member");
  assert.equal(homeFor({ admin_cooperative_ids: [], merchant_ids: [], member_id: null, roles: ["network_admin"] }), "operator");
  assert.equal(homeFor({ admin_cooperative_ids: [], merchant_ids: [], member_id: null, roles: ["observer"] }), "observer");
  assert.equal(homeFor({ admin_cooperative_ids: [], merchant_ids: [], member_id: "mem_1", roles: ["member", "observer"] }), "member");
});

test("both languages have every string, Indonesian first", () => {
  assert.deepEqual(Object.keys(STRINGS), ["id", "en"]);
  assert.deepEqual(Object.keys(STRINGS.en).sort(), Object.keys(STRINGS.id).sort());
  assert.equal(translator("en")("pay"), "Pay");
  assert.equal(translator("xx")("pay"), "Bayar");
  assert.equal(preferredLanguage(["en-US", "id"]), "en");
  assert.equal(preferredLanguage(["id-ID", "en"]), "id");
  assert.equal(preferredLanguage(["fr"]), "id");
});
