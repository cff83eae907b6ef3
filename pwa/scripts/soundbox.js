// The soundbox in the phone: every payment the merchant's feed brings goes on the arrivals list
// (the store's `arrivals`, kept in localStorage over a reload) and is announced, one after
// another, once a tap has allowed sound. "Mulai terima" puts the phone in receiving mode: the
// flag in localStorage brings the app back to the receive screen after a reload.

import { addArrivals, markAllSeen, markSeen, restoreArrivals, savedArrivals, takeNext } from "./arrivals.js";
import { announce, soundUnlocked, unlockSound, whenUnlocked } from "./feedback.js";
import { spokenPayment } from "./terbilang.js";

const RECEIVING_KEY = "receiving"; // the id of the merchant this phone receives for

function storage(use, fallback = null) {
  try {
    return use(localStorage);
  } catch {
    return fallback; // private mode or a full disk: it lasts for this visit only
  }
}

let current = null; // { store, merchantId, stop }
let draining = false;
let receivingHere = false; // "Mulai terima" was tapped since this page loaded

/** The merchant id this phone was receiving for when the page was last open, or null. */
export function receivingFor() {
  return storage((local) => local.getItem(RECEIVING_KEY));
}

/** Whether "Mulai terima" has been tapped since the page loaded (a reload needs the tap again). */
export function receivingNow() {
  return receivingHere;
}

/** Follow `merchantId`'s arrivals in `store` (restoring what was saved before a reload). */
export function startSoundbox(store, merchantId) {
  stopSoundbox();
  const key = `arrivals:${merchantId}`;
  store.set({ arrivals: restoreArrivals(storage((local) => JSON.parse(local.getItem(key)))) });
  const save = () => storage((local) => local.setItem(key, JSON.stringify(savedArrivals(store.get().arrivals))));
  let saved = store.get().arrivals;
  const unsubscribe = store.subscribe(({ arrivals }) => {
    if (!arrivals || arrivals === saved) return;
    saved = arrivals;
    save();
  });
  addEventListener("pagehide", save); // a reload: when it was saved says how long the gap was
  current = {
    store,
    merchantId,
    stop(forget) {
      unsubscribe();
      removeEventListener("pagehide", save);
      if (forget) storage((local) => local.removeItem(key));
    },
  };
  drain();
}

/** Stop following arrivals; `forget` (logging out) also drops the saved list and receiving mode. */
export function stopSoundbox({ forget = false } = {}) {
  if (!current) return;
  current.stop(forget);
  current.store.set({ arrivals: null });
  current = null;
  if (forget) stopReceiving();
}

/** The feed's payments (every batch): each new one shown and announced. */
export function paymentsArrived(payments, { initial = false } = {}) {
  if (!current) return;
  current.store.set((state) => ({ arrivals: addArrivals(state.arrivals, payments, { initial }) }));
  drain();
}

async function drain() {
  if (draining || !current) return;
  if (!soundUnlocked()) {
    whenUnlocked().then(drain);
    return;
  }
  draining = true;
  try {
    while (current) {
      const { store } = current;
      const { arrivals, language } = store.get();
      if (!arrivals?.queue.length) break;
      const { item, state } = takeNext(arrivals);
      store.set({ arrivals: state });
      if (!item) break;
      await announce(sentence(item, language), language);
    }
  } finally {
    draining = false;
  }
}

function sentence(item, language) {
  try {
    return spokenPayment(item.amount, item.name, language);
  } catch {
    return ""; // not an amount the gateway moves: the beeps only
  }
}

/** "Ulangi": the last payment announced, once more. */
export function repeatLast() {
  const { arrivals, language } = current?.store.get() ?? {};
  if (!arrivals?.last) return false;
  unlockSound();
  announce(sentence(arrivals.last, language), language);
  return true;
}

/** The merchant has seen one payment (or, with no id, all of them). */
export function seen(id = null) {
  current?.store.set(({ arrivals }) => ({ arrivals: id ? markSeen(arrivals, id) : markAllSeen(arrivals) }));
}

/** "Mulai terima", in its tap: allow sound (saying `greeting`), remember the receiving mode. */
export function startReceiving({ greeting, language }) {
  unlockSound({ greeting, language });
  receivingHere = true;
  if (current) storage((local) => local.setItem(RECEIVING_KEY, current.merchantId));
  drain();
}

/** Leave receiving mode: a reload lands on the home screen again. */
export function stopReceiving() {
  receivingHere = false;
  storage((local) => local.removeItem(RECEIVING_KEY));
}
