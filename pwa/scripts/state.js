// App state: one small store, and the arithmetic the screens show (today's takings). No DOM.

/** A store: get() the state, set(patch) to change it, subscribe(fn) to hear every change. */
export function createStore(initial) {
  let state = { ...initial };
  const listeners = new Set();
  return {
    get: () => state,
    set(patch) {
      state = { ...state, ...(typeof patch === "function" ? patch(state) : patch) };
      for (const listener of listeners) listener(state);
      return state;
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

export const INITIAL_STATE = {
  language: "id",
  online: true,
  session: null, // {accessToken, expiresAt}
  me: null, // GET /me
  pendingToken: null, // a QR token from /pay#<token>, paid after login
};

const JAKARTA_OFFSET_MS = 7 * 3600 * 1000;

/** The Asia/Jakarta calendar day ("2025-01-31") of an instant. Jakarta has no daylight saving. */
export function jakartaDay(instant) {
  const time = instant instanceof Date ? instant.getTime() : new Date(instant).getTime();
  return new Date(time + JAKARTA_OFFSET_MS).toISOString().slice(0, 10);
}

/** Sum a merchant's payments of the Jakarta day of `now`: gross, fees, refunds, net, count. */
export function todaysTakings(payments, now = new Date()) {
  const today = jakartaDay(now);
  const totals = { gross: 0, fees: 0, refunded: 0, net: 0, count: 0 };
  for (const payment of payments) {
    if (jakartaDay(payment.created_at) !== today) continue;
    totals.gross += payment.amount;
    totals.fees += payment.fee_amount;
    totals.refunded += payment.refunded_amount ?? 0;
    totals.count += 1;
  }
  totals.net = totals.gross - totals.fees - totals.refunded;
  return totals;
}

/** Put fresh payments (any order) into a newest-first list without duplicates. */
export function mergePayments(list, fresh) {
  const byId = new Map(list.map((payment) => [payment.id, payment]));
  for (const payment of fresh) byId.set(payment.id, payment);
  return [...byId.values()].sort((a, b) => (a.created_at < b.created_at ? 1 : a.created_at > b.created_at ? -1 : 0));
}

/** Which home a login lands on: member, merchant or counter (a teller), by the roles of GET /me. */
export function homeFor(me) {
  if (!me) return "login";
  if (me.admin_cooperative_ids?.length) return "counter";
  if (me.merchant_ids?.length) return "merchant";
  return "member";
}
