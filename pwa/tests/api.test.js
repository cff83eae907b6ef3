import { test } from "node:test";
import assert from "node:assert/strict";
import { ApiError, createApi, isRetryable, NetworkError, XLSX } from "../scripts/api.js";

function reply(status, body, type = "application/json") {
  return { ok: status < 400, status, headers: new Headers({ "Content-Type": type }), json: async () => body };
}

function fakeFetch(answers) {
  const calls = [];
  const fetchImpl = async (url, init) => {
    calls.push({ url, init, headers: { ...init.headers } });
    const next = answers.shift();
    if (next instanceof Error) throw next;
    return next;
  };
  return { calls, fetchImpl };
}

const TOKENS = { access_token: "at1", token_type: "Bearer", expires_in: 900 };

test("a problem+json refusal becomes an ApiError carrying its sentence", async () => {
  const problem = { type: "https://interkop.id/problems/limit-exceeded", title: "Limit", status: 422, detail: "Batas harian terlampaui." };
  const { calls, fetchImpl } = fakeFetch([reply(422, problem, "application/problem+json")]);
  const api = createApi({ fetchImpl, language: () => "en" });
  await assert.rejects(api.post("/qr/verify", { token: "x" }), (error) => {
    assert.ok(error instanceof ApiError);
    assert.equal(error.message, "Batas harian terlampaui.");
    assert.equal(error.slug, "limit-exceeded");
    return true;
  });
  assert.equal(calls[0].url, "/api/v1/qr/verify");
  assert.equal(calls[0].headers["Accept-Language"], "en");
  assert.equal(calls[0].init.credentials, "same-origin");
});

test("login asks for the cookie session and keeps the access token in memory only", async () => {
  const { calls, fetchImpl } = fakeFetch([reply(200, TOKENS), reply(200, { id: "usr_1" })]);
  const api = createApi({ fetchImpl });
  await api.login("+6281200000001", "123456");
  assert.equal(calls[0].headers["Interkop-Session"], "cookie");
  assert.equal(api.session.accessToken, "at1");
  await api.get("/me");
  assert.equal(calls[1].headers.Authorization, "Bearer at1");
});

test("an expired access token is refreshed through the cookie once, then the call is repeated", async () => {
  const expired = { type: "https://interkop.id/problems/invalid-token", status: 401, detail: "Sesi berakhir." };
  const { calls, fetchImpl } = fakeFetch([
    reply(200, TOKENS),
    reply(401, expired, "application/problem+json"),
    reply(200, { ...TOKENS, access_token: "at2" }),
    reply(200, { ok: true }),
  ]);
  const api = createApi({ fetchImpl });
  await api.login("+62", "123456");
  assert.deepEqual(await api.get("/me"), { ok: true });
  assert.equal(calls[2].url, "/api/v1/auth/refresh");
  assert.equal(calls[2].init.body, "{}");
  assert.equal(calls[3].headers.Authorization, "Bearer at2");
});

test("a payment keeps one Idempotency-Key, made before the first attempt, across every retry", async () => {
  const unavailable = { type: "https://interkop.id/problems/service-unavailable", status: 503, detail: "..." };
  const { calls, fetchImpl } = fakeFetch([
    new TypeError("Failed to fetch"),
    reply(503, unavailable, "application/problem+json"),
    reply(201, { id: "pay_1", status: "completed" }),
  ]);
  let made = 0;
  const api = createApi({ fetchImpl, sleep: async () => {}, newKey: () => `key-${(made += 1)}` });
  const payment = api.moneyPost("/payments", { token: "t", pin: "123456" });
  assert.equal(payment.key, "key-1");
  assert.equal(calls.length, 0);
  const retries = [];
  const result = await payment.send({ onRetry: (_, attempt) => retries.push(attempt) });
  assert.equal(result.id, "pay_1");
  assert.deepEqual(retries, [1, 2]);
  assert.deepEqual(calls.map((call) => call.headers["Idempotency-Key"]), ["key-1", "key-1", "key-1"]);
  assert.equal(made, 1);
});

test("when every attempt fails the outcome is unknown, and a later retry sends the same key", async () => {
  const { calls, fetchImpl } = fakeFetch([
    new TypeError("offline"),
    new TypeError("offline"),
    reply(201, { id: "pay_9" }),
  ]);
  const api = createApi({ fetchImpl, sleep: async () => {}, retryDelaysMs: [1] });
  const payment = api.moneyPost("/payments", { token: "t" });
  await assert.rejects(payment.send(), NetworkError);
  assert.equal((await payment.send()).id, "pay_9");
  assert.equal(new Set(calls.map((call) => call.headers["Idempotency-Key"])).size, 1);
  assert.match(payment.key, /^[0-9a-f-]{36}$/);
});

test("a refusal is final: it is not retried", async () => {
  const paid = { type: "https://interkop.id/problems/qr-already-paid", status: 409, detail: "Kode QR ini sudah dibayar." };
  const { calls, fetchImpl } = fakeFetch([reply(409, paid, "application/problem+json")]);
  const api = createApi({ fetchImpl, sleep: async () => {} });
  await assert.rejects(api.moneyPost("/payments", {}).send(), /sudah dibayar/);
  assert.equal(calls.length, 1);
  assert.equal(isRetryable(new ApiError({}, 503)), true);
  assert.equal(isRetryable(new ApiError({}, 422)), false);
});

test("a money POST can be prepared again with the key a re-created screen kept", async () => {
  const { calls, fetchImpl } = fakeFetch([reply(201, { id: "ref_1" })]);
  const api = createApi({ fetchImpl, newKey: () => "never-used" });
  const refund = api.moneyPost("/payments/pay_1/refunds", { amount: 5000 }, { key: "kept-key" });
  assert.equal(refund.key, "kept-key");
  await refund.send();
  assert.equal(calls[0].headers["Idempotency-Key"], "kept-key");
});

test("a report file comes back as its bytes and the name the gateway gave it", async () => {
  const xlsx = new Blob([new Uint8Array([0x50, 0x4b, 3, 4])]);
  const file = {
    ok: true,
    status: 200,
    headers: new Headers({
      "Content-Type": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
      "Content-Disposition": 'attachment; filename="bulan-2026-11.xlsx"',
    }),
    blob: async () => xlsx,
  };
  const { calls, fetchImpl } = fakeFetch([reply(200, TOKENS), file]);
  const api = createApi({ fetchImpl });
  await api.login("+6281200000001", "123456");
  const answer = await api.download("/merchants/mer_1/month.xlsx?month=2026-11");
  assert.equal(answer.blob, xlsx);
  assert.equal(answer.name, "bulan-2026-11.xlsx");
  assert.equal(calls[1].url, "/api/v1/merchants/mer_1/month.xlsx?month=2026-11");
  assert.equal(calls[1].headers.Accept, XLSX);
  assert.equal(calls[1].headers.Authorization, "Bearer at1");
});

test("a refused report file is the gateway's sentence, not a file", async () => {
  const problem = { type: "https://interkop.id/problems/validation-failed", status: 422, detail: "month harus bulan seperti 2026-11." };
  const { fetchImpl } = fakeFetch([reply(422, problem, "application/problem+json")]);
  const api = createApi({ fetchImpl });
  await assert.rejects(api.download("/merchants/mer_1/month.xlsx?month=x"), (error) => {
    assert.ok(error instanceof ApiError);
    assert.equal(error.message, "month harus bulan seperti 2026-11.");
    return true;
  });
});
