// Payments whose outcome is not known yet. From the moment a payment is sent until the gateway's
// answer is known, its Idempotency-Key and what it pays (merchant, amount, token, path; never the
// PIN) are kept in localStorage, so that after a lost answer, a reload or the next login the app
// asks the gateway what became of the key (GET /me/idempotency-keys/{key}) instead of guessing,
// and warns before a new payment to the same merchant. Giving up abandons the key
// (POST …/abandon): the answer is the payment if it was made, else no payment with it ever runs.
// No DOM: the storage (localStorage's getItem/setItem) and the API client are passed in.

const STORE = "interkop.pending-payments";
// The gateway keeps a key's answer 24 hours, then may purge it: past that the app can no longer
// learn the outcome (nor safely abandon), so an older entry points to the history instead.
export const STALE_AFTER_MS = 23 * 60 * 60 * 1000;

/** localStorage, or a memory stand-in where it is unavailable (private mode, node). */
export function browserStorage() {
  try {
    const storage = globalThis.localStorage;
    storage.getItem(STORE);
    return storage;
  } catch {
    return memoryStorage();
  }
}

/** A localStorage look-alike held in memory. */
export function memoryStorage() {
  const items = new Map();
  return {
    getItem: (name) => (items.has(name) ? items.get(name) : null),
    setItem: (name, value) => items.set(name, String(value)),
    removeItem: (name) => items.delete(name),
  };
}

export function readPending(storage) {
  try {
    const list = JSON.parse(storage.getItem(STORE) ?? "[]");
    return Array.isArray(list) ? list.filter((entry) => entry && typeof entry.key === "string") : [];
  } catch {
    return [];
  }
}

function writePending(storage, list) {
  try {
    if (list.length) storage.setItem(STORE, JSON.stringify(list));
    else storage.removeItem?.(STORE);
  } catch {
    // Storage full or refused: the entry lives as long as the screen that holds it.
  }
}

/**
 * What to keep of a payment about to be sent: everything needed to ask about it, resend it with
 * the same key (the PIN typed again) and describe it, but not the PIN.
 */
export function pendingEntry({ key, user, path, body, kind, merchant, amount, now = Date.now() }) {
  const { pin, ...rest } = body;
  const { id, name, cooperative = null } = merchant; // as /qr/verify names them
  return {
    key,
    user,
    path,
    body: rest,
    hadPin: pin !== undefined,
    kind,
    merchant: { id, name, cooperative },
    amount,
    sentAt: now,
  };
}

/** Keep a new entry (last), or update the one with its key (in its place). */
export function rememberPending(storage, entry) {
  const list = readPending(storage);
  const at = list.findIndex((other) => other.key === entry.key);
  if (at >= 0) list[at] = entry;
  else list.push(entry);
  writePending(storage, list);
  return entry;
}

export function forgetPending(storage, key) {
  writePending(storage, readPending(storage).filter((entry) => entry.key !== key));
}

export function findPending(storage, key) {
  return readPending(storage).find((entry) => entry.key === key) ?? null;
}

/** The entries of the person logged in (a shared phone keeps each person's apart). */
export function pendingOf(storage, user) {
  return readPending(storage).filter((entry) => entry.user === user);
}

/** The person's payments to `merchantId` whose outcome is still unknown. */
export function unresolvedAt(storage, user, merchantId) {
  return pendingOf(storage, user).filter((entry) => !entry.outcome && entry.merchant.id === merchantId);
}

export function isStale(entry, now = Date.now()) {
  return now - entry.sentAt > STALE_AFTER_MS;
}

/** The body to send again under the entry's key: the same as the first, with the PIN retyped. */
export function retryBody(entry, pin) {
  return entry.hadPin ? { ...entry.body, pin } : { ...entry.body };
}

/**
 * What the gateway's answer about a key means: {kind: "paid", receipt}, {kind: "refused",
 * problem} (no money moved: a stored refusal), {kind: "abandoned"} or {kind: "unknown"}.
 */
export function outcomeOf(answer) {
  if (answer?.state === "abandoned") return { kind: "abandoned" };
  if (answer?.state !== "done") return { kind: "unknown" };
  if (answer.status >= 200 && answer.status < 300) return { kind: "paid", receipt: answer.response };
  if (String(answer.response?.type ?? "").endsWith("/request-abandoned")) return { kind: "abandoned" };
  return { kind: "refused", problem: answer.response ?? {} };
}

const keyPath = (key) => `/me/idempotency-keys/${encodeURIComponent(key)}`;

/** Ask what became of the entry's key; "unknown" when the gateway has no finished request. */
export async function lookUpPending(api, entry) {
  try {
    return outcomeOf(await api.get(keyPath(entry.key)));
  } catch (error) {
    if (error?.name === "ApiError" && error.slug === "idempotency-key-unknown") return { kind: "unknown" };
    throw error;
  }
}

/** Give the entry's payment up: its outcome if it had one, else "abandoned" (it never runs). */
export async function abandonPending(api, entry) {
  return outcomeOf(await api.post(`${keyPath(entry.key)}/abandon`, {}));
}

/**
 * Settle what is known in `storage` after an outcome: a payment made or abandoned is forgotten;
 * a refusal is kept, marked, until the person has seen it; an unknown one stays as it is.
 */
export function settle(storage, entry, outcome) {
  if (outcome.kind === "paid" || outcome.kind === "abandoned") forgetPending(storage, entry.key);
  else if (outcome.kind === "refused") {
    rememberPending(storage, { ...entry, outcome: { kind: "refused", detail: outcome.problem.detail ?? "" } });
  }
  return outcome;
}

/**
 * After a login or a reload: look every unresolved entry of `user` up and settle it. Returns the
 * receipts of payments that turned out made (to show), newest first. An entry that cannot be
 * looked up now (no network) stays for the next time.
 */
export async function settlePending(api, storage, user) {
  const receipts = [];
  for (const entry of pendingOf(storage, user).filter((item) => !item.outcome)) {
    let outcome;
    try {
      outcome = await lookUpPending(api, entry);
    } catch {
      continue;
    }
    settle(storage, entry, outcome);
    if (outcome.kind === "paid") receipts.unshift(outcome.receipt);
  }
  return receipts;
}

/** A sentence with its {placeholders} filled: parts to append (a name stays an element). */
export function phrase(template, values) {
  return String(template)
    .split(/\{(\w+)\}/)
    .map((part, index) => (index % 2 ? values[part] ?? `{${part}}` : part))
    .filter((part) => part !== "");
}
