// .app — the shell: header (back, install, language, logout), the offline banner, and one screen
// at a time. Screens ask for another screen with a bubbling "navigate" event; state flows down
// from the store.
//
// Every screen shown is a browser history entry whose state is {screen, params, depth, ...}, so
// the phone's back button walks back through the app. Below the home screen (depth 1) lies a
// guard entry (depth 0): going back onto it, or onto any entry that is not this person's, puts
// the current screen back, so back never leaves the app for a blank page. A screen keeps its
// state in its `params` (JSON-able, mutated by the screen): the App re-creates it from the same
// object on a language switch, and from the entry's copy on back/forward and after a reload.

import { createApi } from "./api.js";
import { fill, h } from "./dom.js";
import { unlockSound } from "./feedback.js";
import { startFeed } from "./feed.js";
import { preferredLanguage, translator } from "./i18n.js";
import { browserStorage, pendingOf, settlePending } from "./pending.js";
import { paymentsArrived, receivingFor, startSoundbox, stopSoundbox } from "./soundbox.js";
import { createStore, homeFor, INITIAL_STATE, mergePayments } from "./state.js";
import { precacheDecoder } from "./scanner.js";
import { decodeToken, tokenFromText } from "./token.js";
import { CounterDesk } from "./CounterDesk.js";
import { History } from "./History.js";
import { LoginScreen } from "./LoginScreen.js";
import { MemberCard } from "./MemberCard.js";
import { MemberHome } from "./MemberHome.js";
import { MerchantHome } from "./MerchantHome.js";
import { NewSale } from "./NewSale.js";
import { PayConfirm } from "./PayConfirm.js";
import { PayScan } from "./PayScan.js";
import { Receipt } from "./Receipt.js";
import { ReceiveQr } from "./ReceiveQr.js";
import { ShiftScreen } from "./ShiftScreen.js";

/**
 * A screen whose module is fetched the first time it is shown: the back office's screens, which
 * most phones (members, merchants) never open, stay out of the modules the login form waits for.
 */
function onDemand(load, name) {
  return (props) => {
    const holder = h("section", { class: "screen-loading" }, h("p", { class: "loading" }, "Interkop…"));
    load()
      .then((module) => {
        if (!holder.isConnected) return; // another screen came first
        const view = module[name](props);
        holder.replaceWith(view);
        view.querySelector("h1")?.focus?.({ preventScroll: true });
      })
      .catch(() => holder.isConnected && fill(holder, h("p", { class: "problem", role: "alert" }, props.t("networkError"))));
    return holder;
  };
}

const SCREENS = {
  login: LoginScreen,
  member: MemberHome,
  merchant: MerchantHome,
  counter: CounterDesk,
  scan: PayScan,
  confirm: PayConfirm,
  receipt: Receipt,
  history: History,
  receive: ReceiveQr,
  "new-sale": NewSale,
  card: MemberCard,
  shu: onDemand(() => import("./ShuScreen.js"), "ShuScreen"),
  // the back office
  observer: onDemand(() => import("./ObserverHome.js"), "ObserverHome"),
  operator: onDemand(() => import("./OperatorHome.js"), "OperatorHome"),
  "coop-admin": onDemand(() => import("./CoopAdminHome.js"), "CoopAdminHome"),
  import: onDemand(() => import("./ImportScreen.js"), "ImportScreen"),
  shift: ShiftScreen,
};

/** The screens this app has (the cooperative admin's home links only to these). */
export const SCREEN_NAMES = Object.keys(SCREENS);
const HOMES = new Set(["member", "merchant", "counter", "observer", "operator", "coop-admin"]);
// The homes a person's roles open (GET /me), in the order the header's role button goes through.
const homesOf = (me) =>
  me
    ? [
        me.admin_cooperative_ids?.length && "counter",
        me.admin_cooperative_ids?.length && "coop-admin",
        me.roles?.includes("network_admin") && "operator",
        me.roles?.includes("observer") && "observer",
        me.merchant_ids?.length && "merchant",
        me.member_id && "member",
      ].filter(Boolean)
    : [];
const ROLE_LABELS = { member: "pay", merchant: "receive", counter: "roleCounter", "coop-admin": "roleReport", operator: "roleOperator", observer: "roleObserver" };
// A non-secret hint that a refresh cookie may exist (the cookie itself is httpOnly): without it a
// fresh load does not ask /auth/refresh, whose 401 every visitor's console would show.
const SESSION_HINT = "session";

function stored(key) {
  try {
    return localStorage.getItem(key);
  } catch {
    return null;
  }
}

function remember(key, value) {
  try {
    if (value === null) localStorage.removeItem(key);
    else localStorage.setItem(key, value);
  } catch {
    // private mode: it lasts for this visit only
  }
}

const savedLanguage = () => stored("language");

/** A plain copy of a screen's params, as a history entry keeps them. */
const plain = (params) => JSON.parse(JSON.stringify(params ?? {}));

/** Run `work` once the page is idle, a while after the first screen's own requests. */
function later(work, delayMs = 2000) {
  setTimeout(() => (globalThis.requestIdleCallback ?? ((fn) => setTimeout(fn, 0)))(work, { timeout: 5000 }), delayMs);
}

export function App(root) {
  const store = createStore({
    ...INITIAL_STATE,
    language: savedLanguage() ?? preferredLanguage(navigator.languages),
    online: navigator.onLine,
    role: null, // which home a person with several roles is looking at
    payments: [], // a merchant's, newest first
    merchant: null,
    arrivals: null, // the soundbox's list and queue (arrivals.js)
  });
  const api = createApi({
    language: () => store.get().language,
    onSessionChange: (session) => remember(SESSION_HINT, session ? "1" : null),
  });
  let t = translator(store.get().language);
  let current = { screen: "login", params: {}, depth: 0 };
  let leaving = [];
  let stopFeed = null;
  let homeParams = null; // what a screen sent home with, while history.go takes the app there
  let installPrompt = null; // the browser's beforeinstallprompt event, while it offers one
  // The entry a reload landed on: shown again once the session is back, if it is this person's.
  let reloaded = ours(history.state) && !history.state.guard ? history.state : null;

  const title = h("span", { class: "app-title" }, "Interkop");
  const backButton = h("button", { class: "icon-button back-button", hidden: true, onclick: () => history.back() }, "‹");
  const installButton = h("button", { class: "text-button install-button", hidden: true, onclick: () => install() });
  const languageButton = h("button", { class: "text-button language-button", onclick: () => switchLanguage() });
  const roleButton = h("button", { class: "text-button role-button", hidden: true, onclick: () => switchRole() });
  const logoutButton = h("button", { class: "text-button logout-button", hidden: true, onclick: () => logout() });
  const offline = h("p", { class: "offline-banner", role: "status", hidden: true });
  const main = h("main", { class: "app-main" });
  root.replaceChildren(h("header", { class: "app-header" }, backButton, title, installButton, roleButton, languageButton, logoutButton), offline, main);
  root.classList.add("app");

  const home = () => {
    const { me, role } = store.get();
    return role ?? homeFor(me);
  };

  function ours(state) {
    return state?.app === "interkop" && typeof state.screen === "string" && Number.isInteger(state.depth);
  }

  function entry({ screen, params, depth }, guard = false) {
    const { me, role } = store.get();
    return { app: "interkop", owner: me?.id ?? null, role, screen, params: plain(params), depth, guard };
  }

  /** Keep the current screen's params (as the screen has changed them) in its history entry. */
  function save() {
    if (current.depth > 0) history.replaceState(entry(current), "");
  }

  /**
   * Show `screen` with `params`. `history`: "push" a new entry (a step forward), "replace" the
   * current one, "reset" the trail (a guard, then this screen as the first step: login, a new
   * home), or "none" (back/forward already moved, or the same screen again).
   */
  function show(screen, params = {}, { history: mode = "push" } = {}) {
    if (screen === "home") {
      // Back to the first step rather than a new step forward: back from home stays home.
      if (mode === "push" && current.depth > 1) {
        homeParams = Object.keys(params).length ? params : null; // for home, once back (popstate)
        return history.go(1 - current.depth);
      }
      screen = home();
      if (mode === "push") mode = current.depth === 1 ? "replace" : "reset";
    }
    if (mode === "push") {
      save();
      current = { screen, params, depth: current.depth + 1 };
      history.pushState(entry(current), "");
    } else if (mode === "reset") {
      current = { screen, params, depth: 1 };
      history.replaceState(entry(current, true), "");
      history.pushState(entry(current), "");
    } else {
      current = { screen, params, depth: Math.max(current.depth, 1) };
      if (mode === "replace") history.replaceState(entry(current), "");
    }
    render();
  }

  function render() {
    const { screen, params } = current;
    for (const leave of leaving) leave();
    leaving = [];
    const state = store.get();
    const view = SCREENS[screen]({
      api, store, t, params, me: state.me,
      onLeave: (fn) => leaving.push(fn),
      onLogin: loggedIn,
      knows: (name) => Object.hasOwn(SCREENS, name),
    });
    main.replaceChildren(view);
    main.dataset.screen = screen;
    root.dataset.screen = screen;
    backButton.hidden = current.depth <= 1;
    backButton.setAttribute("aria-label", t("back"));
    main.scrollTop = 0;
    view.querySelector("h1, button.primary")?.focus?.({ preventScroll: true });
  }

  /** Whether a history entry may be shown to the person now logged in (or to nobody). */
  function mayShow(state) {
    const { me } = store.get();
    if (!ours(state) || state.guard || !(state.screen in SCREENS)) return false;
    if ((state.owner ?? null) !== (me?.id ?? null)) return false;
    return me ? state.screen !== "login" : state.screen === "login";
  }

  function showEntry(state) {
    if (HOMES.has(state.screen)) store.set({ role: state.screen });
    else if (state.role !== undefined) store.set({ role: state.role });
    current = { screen: state.screen, params: state.params ?? {}, depth: state.depth };
    try {
      render();
    } catch (error) {
      console.warn("could not show", state.screen, error);
      show("home", {}, { history: "reset" });
    }
  }

  addEventListener("popstate", (event) => {
    if (!event.state && tokenFromText(location.hash)) return; // a QR link opened here: see hashchange
    if (mayShow(event.state)) {
      const sent = event.state.depth === 1 ? homeParams : null;
      homeParams = null;
      if (!sent) return showEntry(event.state);
      history.replaceState({ ...event.state, params: plain(sent) }, "");
      return showEntry({ ...event.state, params: sent });
    }
    // The guard below home, another person's screens, or a page before the app: stay here.
    history.pushState(entry(current), "");
  });
  // Screens change their params as people type: keep them in the entry before the page goes.
  addEventListener("pagehide", save);
  document.addEventListener("visibilitychange", () => document.visibilityState === "hidden" && save());

  function renderChrome() {
    const { language, online, me } = store.get();
    document.documentElement.lang = language;
    languageButton.textContent = t("language");
    logoutButton.textContent = t("logout");
    logoutButton.hidden = !me;
    installButton.textContent = t("install");
    installButton.setAttribute("aria-label", t("installLabel"));
    backButton.setAttribute("aria-label", t("back"));
    const roles = homesOf(me);
    roleButton.hidden = roles.length < 2;
    if (roles.length > 1) {
      const next = roles[(roles.indexOf(home()) + 1) % roles.length];
      roleButton.textContent = t(ROLE_LABELS[next]);
      roleButton.dataset.next = next;
    }
    offline.textContent = t("offline");
    offline.hidden = online;
  }

  function switchLanguage() {
    const language = store.get().language === "id" ? "en" : "id";
    remember("language", language);
    t = translator(language);
    store.set({ language });
    // The same screen from the same params object: what was typed or shown stays.
    show(current.screen, current.params, { history: "replace" });
  }

  function switchRole() {
    store.set({ role: roleButton.dataset.next });
    show(home(), {}, { history: "reset" });
  }

  // The browser offers installation (Chrome, Edge, Samsung Internet): keep its prompt for the
  // header's button. Elsewhere the event never comes and the button stays hidden.
  addEventListener("beforeinstallprompt", (event) => {
    event.preventDefault();
    installPrompt = event;
    installButton.hidden = false;
  });
  addEventListener("appinstalled", () => {
    installPrompt = null;
    installButton.hidden = true;
  });

  async function install() {
    const prompt = installPrompt;
    if (!prompt) return;
    installPrompt = null; // a prompt shows once; the browser offers again later if it is declined
    installButton.hidden = true;
    try {
      await prompt.prompt();
    } catch (error) {
      console.warn("install", error);
    }
  }

  async function startMerchant(me) {
    const merchantId = me.merchant_ids[0];
    // Every payment of every batch goes to the soundbox: each shown and announced, none lost.
    startSoundbox(store, merchantId);
    try {
      const code = await api.get(`/merchants/${merchantId}/static-qr`);
      store.set({ merchant: { id: merchantId, name: decodeToken(code.token)?.claims.name ?? "" } });
    } catch {
      store.set({ merchant: { id: merchantId, name: "" } });
    }
    stopFeed = startFeed(api, merchantId, {
      onPayments(items, { initial }) {
        store.set((state) => ({ payments: mergePayments(state.payments, items) }));
        paymentsArrived(items, { initial });
      },
    });
  }

  async function loggedIn() {
    const me = await api.get("/me");
    store.set({ me, role: null, payments: [] });
    const merchantReady = me.merchant_ids?.length ? startMerchant(me) : null;
    const again = reloaded;
    reloaded = null;
    // A payment whose answer was lost before this reload or login: the gateway says what it became.
    const [made] = me.member_id ? await settlePending(api, browserStorage(), me.id) : [];
    if (made) {
      store.set({ role: "member" });
      show("home", {}, { history: "reset" });
      show("receipt", { payment: made, fresh: true });
      return;
    }
    const { pendingToken } = store.get();
    if (pendingToken && me.member_id) {
      store.set({ pendingToken: null, role: "member" });
      show("home", {}, { history: "reset" });
      show("confirm", { token: pendingToken });
    } else if (me.merchant_ids?.includes(receivingFor())) {
      // The phone was receiving when the page went: back to the receive screen ("Mulai terima" again).
      await merchantReady; // the receive screen shows the merchant's name from the store
      store.set({ role: "merchant" });
      show("home", {}, { history: "reset" });
      show("receive");
    } else if (again && mayShow(again) && again.screen !== "receive" && !pendingOf(browserStorage(), me.id).length) {
      // The screen the reload left, from its params. Not where home has more to say: a payment
      // not yet settled is shown there (pending.js), and the receive screen comes back only while
      // receiving (soundbox.js).
      await merchantReady;
      showEntry(again);
    } else {
      show("home", {}, { history: "reset" });
    }
    // People who scan get the QR decoder fetched quietly, so their first scan does not wait.
    if (me.member_id || me.admin_cooperative_ids?.length) later(() => precacheDecoder());
  }

  async function logout() {
    stopFeed?.();
    stopFeed = null;
    stopSoundbox({ forget: true });
    await api.logout();
    store.set({ me: null, role: null, payments: [], merchant: null });
    show("login", {}, { history: "reset" });
  }

  store.subscribe(renderChrome);
  main.addEventListener("navigate", (event) => {
    const { screen, params } = event.detail;
    // A receipt takes the confirm screen's place: back from it never offers to pay again.
    const replace = current.screen === "confirm" && screen === "receipt";
    show(screen, params, { history: replace ? "replace" : "push" });
  });
  addEventListener("online", () => store.set({ online: true }));
  addEventListener("offline", () => store.set({ online: false }));
  addEventListener("pointerdown", unlockSound, { once: true });
  addEventListener("hashchange", () => {
    const token = tokenFromText(location.hash);
    if (!token) return;
    // Following the link made a new entry (with no state): it becomes the confirm screen's.
    if (store.get().me?.member_id) {
      current = { screen: "confirm", params: { token }, depth: current.depth + 1 };
      history.replaceState(entry(current), "", "/");
      render();
    } else {
      history.replaceState(entry(current), "", "/");
      store.set({ pendingToken: token });
    }
  });

  // A QR opened by the phone's own camera arrives as /pay#<token>.
  const token = location.pathname === "/pay" ? tokenFromText(location.hash) : null;
  if (token) store.set({ pendingToken: token });
  if (location.pathname !== "/" || location.hash) history.replaceState(history.state, "", "/");
  renderChrome();

  (async () => {
    let resumed = false;
    try {
      // Only where a session can exist: a login here set the hint, a logout or refusal cleared it.
      resumed = stored(SESSION_HINT) !== null && navigator.onLine && (await api.refresh());
    } catch {
      resumed = false;
    }
    if (resumed) {
      try {
        await loggedIn();
        return;
      } catch {
        // fall through to the login screen
      }
    }
    show("login", {}, { history: "reset" });
  })();

  return { store, api };
}
