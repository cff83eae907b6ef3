// App state: one small store, Jakarta days, merging the feed. No DOM. (The figures the screens
// show come from the gateway, which keeps the books; the browser does no sums of money.)

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

/** The calendar day `days` after (or before) the day "2025-01-31". */
export function shiftDay(isoDay, days) {
  return new Date(Date.parse(`${isoDay}T12:00:00Z`) + days * 86_400_000).toISOString().slice(0, 10);
}

/** Put fresh payments (any order) into a newest-first list without duplicates. */
export function mergePayments(list, fresh) {
  const byId = new Map(list.map((payment) => [payment.id, payment]));
  for (const payment of fresh) byId.set(payment.id, payment);
  return [...byId.values()].sort((a, b) => (a.created_at < b.created_at ? 1 : a.created_at > b.created_at ? -1 : 0));
}

/**
 * Which home a login lands on, by the roles of GET /me: counter (a teller), merchant, member, or
 * for the city's staff without a wallet the operator's or the observer's screen.
 */
export function homeFor(me) {
  if (!me) return "login";
  if (me.admin_cooperative_ids?.length) return "counter";
  if (me.merchant_ids?.length) return "merchant";
  if (me.member_id) return "member";
  if (me.roles?.includes("network_admin")) return "operator";
  if (me.roles?.includes("observer")) return "observer";
  return "member";
}
