// The soundbox's queue of arrived payments: each payment taken once by its id, whatever batches
// the feed delivers it in; announced one after another in the order they arrived; kept in the
// banner's list until the merchant marks it seen; the last announced kept for "Ulangi".
// Plain JSON state (the store holds it, localStorage keeps it over a reload). No DOM.

export const KNOWN_MAX = 300; // ids remembered against a payment delivered twice (> the feed's first page)
export const UNSEEN_MAX = 100; // the banner's list: the oldest unseen go beyond this
export const STALE_MS = 2 * 60_000; // an announcement held longer than this (no tap yet) is only shown
export const RESUME_MS = 2 * 60_000; // a saved queue this fresh is a reload: what came meanwhile is news

export function emptyArrivals() {
  return { known: [], unseen: [], queue: [], last: null, latest: null, resumeAfter: null };
}

const time = (iso) => Date.parse(iso) || 0;

/** What the list and the voice need of a payment: its id, amount, payer's name and time. */
function arrival(payment, now) {
  const { name } = payment.payer ?? {};
  return { id: payment.id, amount: payment.amount, name: name ?? "", created_at: payment.created_at, arrived_at: now };
}

/**
 * Take a batch of the feed's payments (any order). The live feed's are all news: shown and queued
 * to be announced, oldest first. The first page's (`initial`) are only remembered, except, right
 * after a reload, those newer than the newest payment known before it: they came meanwhile.
 */
export function addArrivals(state, payments, { initial = false, now = Date.now() } = {}) {
  const known = new Set(state.known);
  const fresh = [];
  for (const payment of payments) {
    if (!payment?.id || known.has(payment.id)) continue;
    known.add(payment.id);
    fresh.push(payment);
  }
  fresh.sort((a, b) => time(a.created_at) - time(b.created_at)); // stable: ties keep the feed's order
  const resumeAfter = initial ? state.resumeAfter : null;
  const news = fresh.filter((payment) => !initial || (resumeAfter !== null && time(payment.created_at) > time(resumeAfter))).map((payment) => arrival(payment, now));
  const latest = fresh.reduce((newest, payment) => (newest === null || time(payment.created_at) > time(newest) ? payment.created_at : newest), state.latest);
  return {
    ...state,
    known: [...state.known, ...fresh.map((payment) => payment.id)].slice(-KNOWN_MAX),
    unseen: [...state.unseen, ...news].slice(-UNSEEN_MAX),
    queue: [...state.queue, ...news],
    latest,
    resumeAfter: initial ? null : state.resumeAfter,
  };
}

/** The next payment to announce (null when none), taken off the queue and kept as the last
 * announced; those held past STALE_MS stay on the list, unannounced. */
export function takeNext(state, now = Date.now()) {
  const queue = state.queue.filter((item) => now - item.arrived_at <= STALE_MS);
  const [item = null, ...rest] = queue;
  return { item, state: { ...state, queue: rest, last: item ?? state.last } };
}

/** Whether something waits to be announced. */
export function hasQueued(state) {
  return state.queue.length > 0;
}

/** The payment "Ulangi" repeats: the last one announced, or null. */
export function lastAnnounced(state) {
  return state.last;
}

/** The merchant has seen this one: off the list, and not announced any more. */
export function markSeen(state, id) {
  return { ...state, unseen: state.unseen.filter((item) => item.id !== id), queue: state.queue.filter((item) => item.id !== id) };
}

/** The merchant has seen them all. */
export function markAllSeen(state) {
  return { ...state, unseen: [], queue: [] };
}

/** What to keep in localStorage: the state and when it was saved. */
export function savedArrivals(state, now = Date.now()) {
  const { resumeAfter, ...kept } = state;
  return { ...kept, saved_at: now };
}

/**
 * The state saved before a reload (or anything else localStorage held): what is sound of it,
 * with `resumeAfter` set when it was saved within RESUME_MS, so that the feed's first page
 * announces what came during the reload.
 */
export function restoreArrivals(saved, now = Date.now()) {
  const state = emptyArrivals();
  if (!saved || typeof saved !== "object") return state;
  const isArrival = (item) => item && typeof item.id === "string" && Number.isSafeInteger(item.amount) && typeof item.name === "string" && Number.isFinite(item.arrived_at);
  const list = (value, check) => (Array.isArray(value) ? value.filter(check) : []);
  state.known = list(saved.known, (id) => typeof id === "string").slice(-KNOWN_MAX);
  state.unseen = list(saved.unseen, isArrival).slice(-UNSEEN_MAX);
  state.queue = list(saved.queue, isArrival);
  state.last = isArrival(saved.last) ? saved.last : null;
  state.latest = typeof saved.latest === "string" ? saved.latest : null;
  const fresh = Number.isFinite(saved.saved_at) && now - saved.saved_at >= 0 && now - saved.saved_at <= RESUME_MS;
  state.resumeAfter = fresh ? (state.latest ?? "") : null; // "": no payment known yet, all are news
  return state;
}
