import { test } from "node:test";
import assert from "node:assert/strict";
import { ApiError, createApi, NetworkError } from "../scripts/api.js";
import {
  abandonPending,
  findPending,
  forgetPending,
  isStale,
  lookUpPending,
  memoryStorage,
  outcomeOf,
  pendingEntry,
  pendingOf,
  phrase,
  readPending,
  rememberPending,
  retryBody,
  settle,
  settlePending,
  STALE_AFTER_MS,
  unresolvedAt,
} from "../scripts/pending.js";

const MERCHANT = { id: "mer_1", name: "Angkot 05", cooperative: { id: "coop_2", name: "Koperasi Pedagang" } };
const entry = (key, extra = {}) =>
  pendingEntry({ key, user: "usr_1", path: "/payments", body: { token: "t.o.k", amount: 4000, pin: "246810" }, kind: "static", merchant: MERCHANT, amount: 4000, now: 1_000, ...extra });

function fakeApi(answers) {
  const calls = [];
  const next = async (method, path, body) => {
    calls.push({ method, path, body });
    const answer = answers.shift();
    if (answer instanceof Error) throw answer;
    return answer;
  };
  return { calls, get: (path) => next("GET", path), post: (path, body) => next("POST", path, body) };
}

const unknown = new ApiError({ type: "https://interkop.id/problems/idempotency-key-unknown", status: 404, detail: "…" }, 404);

test("an entry keeps what was paid and the key, never the PIN", () => {
  const kept = entry("k1");
  assert.deepEqual(kept, {
    key: "k1",
    user: "usr_1",
    path: "/payments",
    body: { token: "t.o.k", amount: 4000 },
    hadPin: true,
    kind: "static",
    merchant: MERCHANT,
    amount: 4000,
    sentAt: 1_000,
  });
  const storage = memoryStorage();
  rememberPending(storage, kept);
  assert.ok(!storage.getItem("interkop.pending-payments").includes("246810"));
  // The resend is the first body again, with the PIN typed again.
  assert.deepEqual(retryBody(kept, "246810"), { token: "t.o.k", amount: 4000, pin: "246810" });
  const noPin = pendingEntry({ key: "k2", user: "usr_1", path: "/payments", body: { token: "t" }, kind: "dynamic", merchant: MERCHANT, amount: 3000 });
  assert.equal(noPin.hadPin, false);
  assert.deepEqual(retryBody(noPin, "999999"), { token: "t" });
});

test("entries are kept per person and per merchant, by key, until forgotten", () => {
  const storage = memoryStorage();
  rememberPending(storage, entry("k1"));
  rememberPending(storage, entry("k2", { merchant: { id: "mer_2", name: "Warung", cooperative: null } }));
  rememberPending(storage, entry("k3", { user: "usr_2" }));
  rememberPending(storage, { ...entry("k1"), amount: 5000 }); // an update, not a second entry
  assert.equal(readPending(storage).length, 3);
  assert.deepEqual(pendingOf(storage, "usr_1").map((e) => e.key), ["k1", "k2"]);
  assert.deepEqual(unresolvedAt(storage, "usr_1", "mer_1").map((e) => e.amount), [5000]);
  assert.deepEqual(unresolvedAt(storage, "usr_2", "mer_2"), []);
  forgetPending(storage, "k1");
  assert.equal(findPending(storage, "k1"), null);
  assert.equal(findPending(storage, "k2").merchant.name, "Warung");
  forgetPending(storage, "k2");
  forgetPending(storage, "k3");
  assert.equal(storage.getItem("interkop.pending-payments"), null);
});

test("broken storage reads as nothing kept", () => {
  const storage = memoryStorage();
  storage.setItem("interkop.pending-payments", "{not json");
  assert.deepEqual(readPending(storage), []);
  storage.setItem("interkop.pending-payments", JSON.stringify([null, { key: 3 }, { key: "ok", user: "u", merchant: MERCHANT }]));
  assert.deepEqual(readPending(storage).map((e) => e.key), ["ok"]);
  const refusing = { getItem: () => null, setItem: () => { throw new Error("quota"); } };
  assert.doesNotThrow(() => rememberPending(refusing, entry("k")));
});

test("the gateway's answer about a key becomes an outcome", () => {
  const receipt = { id: "pay_1", amount: 4000 };
  assert.deepEqual(outcomeOf({ key: "k", state: "done", status: 201, response: receipt }), { kind: "paid", receipt });
  const limit = { type: "https://interkop.id/problems/limit-exceeded", detail: "Batas" };
  assert.deepEqual(outcomeOf({ key: "k", state: "done", status: 422, response: limit }), { kind: "refused", problem: limit });
  assert.deepEqual(outcomeOf({ key: "k", state: "abandoned" }), { kind: "abandoned" });
  // A resend that met the tombstone: the 409 request-abandoned, stored under the key.
  const tombstone = { type: "https://interkop.id/problems/request-abandoned", status: 409 };
  assert.deepEqual(outcomeOf({ key: "k", state: "done", status: 409, response: tombstone }), { kind: "abandoned" });
  assert.deepEqual(outcomeOf(null), { kind: "unknown" });
});

test("looking a key up: the stored answer, or unknown on 404; other failures are thrown", async () => {
  const receipt = { id: "pay_1" };
  const api = fakeApi([{ key: "a/b", state: "done", status: 201, response: receipt }, unknown, new NetworkError(new TypeError("offline"))]);
  assert.deepEqual(await lookUpPending(api, { key: "a/b" }), { kind: "paid", receipt });
  assert.equal(api.calls[0].path, "/me/idempotency-keys/a%2Fb");
  assert.deepEqual(await lookUpPending(api, { key: "k" }), { kind: "unknown" });
  await assert.rejects(lookUpPending(api, { key: "k" }), NetworkError);
});

test("abandoning posts to the key's abandon and reads the answer", async () => {
  const api = fakeApi([{ key: "k", state: "abandoned" }, { key: "k", state: "done", status: 201, response: { id: "pay_1" } }]);
  assert.deepEqual(await abandonPending(api, { key: "k" }), { kind: "abandoned" });
  assert.deepEqual(api.calls[0], { method: "POST", path: "/me/idempotency-keys/k/abandon", body: {} });
  assert.equal((await abandonPending(api, { key: "k" })).kind, "paid");
});

test("settling: made and abandoned are forgotten, a refusal kept marked, unknown kept as is", () => {
  const storage = memoryStorage();
  for (const key of ["paid", "gone", "refused", "open"]) rememberPending(storage, entry(key));
  settle(storage, findPending(storage, "paid"), { kind: "paid", receipt: {} });
  settle(storage, findPending(storage, "gone"), { kind: "abandoned" });
  settle(storage, findPending(storage, "refused"), { kind: "refused", problem: { detail: "Saldo tidak cukup." } });
  settle(storage, findPending(storage, "open"), { kind: "unknown" });
  assert.deepEqual(readPending(storage).map((e) => [e.key, e.outcome ?? null]), [
    ["refused", { kind: "refused", detail: "Saldo tidak cukup." }],
    ["open", null],
  ]);
  // A refused one is no longer unresolved: no warning before paying that merchant again.
  assert.deepEqual(unresolvedAt(storage, "usr_1", "mer_1").map((e) => e.key), ["open"]);
});

test("after a login every unresolved entry is looked up; the receipts of those made come back", async () => {
  const storage = memoryStorage();
  rememberPending(storage, entry("made"));
  rememberPending(storage, entry("offline"));
  rememberPending(storage, entry("open"));
  rememberPending(storage, entry("someone-else", { user: "usr_2" }));
  const api = fakeApi([
    { key: "made", state: "done", status: 201, response: { id: "pay_1" } },
    new NetworkError(new TypeError("offline")),
    unknown,
  ]);
  assert.deepEqual(await settlePending(api, storage, "usr_1"), [{ id: "pay_1" }]);
  assert.equal(api.calls.length, 3); // not the other person's
  assert.deepEqual(readPending(storage).map((e) => e.key), ["offline", "open", "someone-else"]);
});

test("an entry older than the gateway's retention is stale", () => {
  assert.equal(isStale({ sentAt: 0 }, STALE_AFTER_MS), false);
  assert.equal(isStale({ sentAt: 0 }, STALE_AFTER_MS + 1), true);
  assert.ok(STALE_AFTER_MS < 24 * 60 * 60 * 1000);
});

test("a sentence's placeholders are filled with text or elements", () => {
  const name = { element: "bdi" };
  assert.deepEqual(phrase("Pembayaran {amount} ke {name} belum pasti.", { amount: "Rp 4.000", name }), ["Pembayaran ", "Rp 4.000", " ke ", name, " belum pasti."]);
  assert.deepEqual(phrase("{name}", { name }), [name]);
  assert.deepEqual(phrase("no {hole}", {}), ["no ", "{hole}"]);
});

test("a payment resumed with its kept key sends that key", async () => {
  const calls = [];
  const fetchImpl = async (url, init) => {
    calls.push(init.headers["Idempotency-Key"]);
    return { ok: true, status: 201, headers: new Headers({ "Content-Type": "application/json" }), json: async () => ({ id: "pay_1" }) };
  };
  const api = createApi({ fetchImpl, newKey: () => "fresh" });
  const resumed = api.moneyPost("/payments", { token: "t" }, { key: "kept-key" });
  assert.equal(resumed.key, "kept-key");
  await resumed.send();
  await api.moneyPost("/payments", { token: "t" }).send();
  assert.deepEqual(calls, ["kept-key", "fresh"]);
});
