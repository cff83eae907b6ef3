// .app — the shell: header (back, language, logout), the offline banner, and one screen at a time.
// Screens ask for another screen with a bubbling "navigate" event; state flows down from the store.

import { createApi } from "./api.js";
import { h } from "./dom.js";
import { unlockSound } from "./feedback.js";
import { startFeed } from "./feed.js";
import { preferredLanguage, translator } from "./i18n.js";
import { browserStorage, settlePending } from "./pending.js";
import { paymentsArrived, receivingFor, startSoundbox, stopSoundbox } from "./soundbox.js";
import { createStore, homeFor, INITIAL_STATE, mergePayments } from "./state.js";
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
};

function savedLanguage() {
  try {
    return localStorage.getItem("language");
  } catch {
    return null;
  }
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
  const api = createApi({ language: () => store.get().language });
  let t = translator(store.get().language);
  let current = { screen: "login", params: {} };
  const trail = [];
  let leaving = [];
  let stopFeed = null;

  const title = h("span", { class: "app-title" }, "Interkop");
  const backButton = h("button", { class: "icon-button back-button", hidden: true, onclick: () => back() }, "‹");
  const languageButton = h("button", { class: "text-button language-button", onclick: () => switchLanguage() });
  const roleButton = h("button", { class: "text-button role-button", hidden: true, onclick: () => switchRole() });
  const logoutButton = h("button", { class: "text-button logout-button", hidden: true, onclick: () => logout() });
  const offline = h("p", { class: "offline-banner", role: "status", hidden: true });
  const main = h("main", { class: "app-main" });
  root.replaceChildren(h("header", { class: "app-header" }, backButton, title, roleButton, languageButton, logoutButton), offline, main);
  root.classList.add("app");

  const home = () => {
    const { me, role } = store.get();
    return role ?? homeFor(me);
  };

  function show(screen, params = {}, { remember = true } = {}) {
    if (screen === "home") screen = home();
    for (const leave of leaving) leave();
    leaving = [];
    if (remember && current.screen !== screen && screen !== home() && current.screen !== "login") trail.push(current);
    if (screen === home() || screen === "login") trail.length = 0;
    current = { screen, params };
    const state = store.get();
    const view = SCREENS[screen]({
      api, store, t, params, me: state.me,
      onLeave: (fn) => leaving.push(fn),
      onLogin: loggedIn,
    });
    main.replaceChildren(view);
    main.dataset.screen = screen;
    root.dataset.screen = screen;
    backButton.hidden = trail.length === 0;
    backButton.setAttribute("aria-label", t("back"));
    main.scrollTop = 0;
    view.querySelector("h1, button.primary")?.focus?.({ preventScroll: true });
  }

  function back() {
    const previous = trail.pop();
    if (previous) show(previous.screen, previous.params, { remember: false });
    else show("home");
  }

  function renderChrome() {
    const { language, online, me } = store.get();
    document.documentElement.lang = language;
    languageButton.textContent = t("language");
    logoutButton.textContent = t("logout");
    logoutButton.hidden = !me;
    const roles = me ? [me.admin_cooperative_ids?.length && "counter", me.merchant_ids?.length && "merchant", me.member_id && "member"].filter(Boolean) : [];
    roleButton.hidden = roles.length < 2;
    if (roles.length > 1) {
      const next = roles[(roles.indexOf(home()) + 1) % roles.length];
      roleButton.textContent = { member: t("pay"), merchant: t("receive"), counter: t("counterTitle") }[next];
      roleButton.dataset.next = next;
    }
    offline.textContent = t("offline");
    offline.hidden = online;
  }

  function switchLanguage() {
    const language = store.get().language === "id" ? "en" : "id";
    try {
      localStorage.setItem("language", language);
    } catch {
      // private mode: the choice lasts for this visit only
    }
    t = translator(language);
    store.set({ language });
    show(current.screen, current.params, { remember: false });
  }

  function switchRole() {
    store.set({ role: roleButton.dataset.next });
    show("home");
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
    if (me.merchant_ids?.length) startMerchant(me);
    // A payment whose answer was lost before this reload or login: the gateway says what it became.
    const [made] = me.member_id ? await settlePending(api, browserStorage(), me.id) : [];
    if (made) {
      store.set({ role: "member" });
      show("home");
      show("receipt", { payment: made, fresh: true });
      return;
    }
    const { pendingToken } = store.get();
    if (pendingToken && me.member_id) {
      store.set({ pendingToken: null, role: "member" });
      show("home");
      show("confirm", { token: pendingToken });
    } else if (me.merchant_ids?.includes(receivingFor())) {
      // The phone was receiving when the page went: back to the receive screen ("Mulai terima" again).
      store.set({ role: "merchant" });
      show("home");
      show("receive");
    } else {
      show("home");
    }
  }

  async function logout() {
    stopFeed?.();
    stopFeed = null;
    stopSoundbox({ forget: true });
    await api.logout();
    store.set({ me: null, role: null, payments: [], merchant: null });
    show("login");
  }

  store.subscribe(renderChrome);
  main.addEventListener("navigate", (event) => show(event.detail.screen, event.detail.params));
  addEventListener("online", () => store.set({ online: true }));
  addEventListener("offline", () => store.set({ online: false }));
  addEventListener("pointerdown", unlockSound, { once: true });
  addEventListener("hashchange", () => {
    const token = tokenFromText(location.hash);
    if (!token) return;
    history.replaceState(null, "", "/");
    if (store.get().me?.member_id) show("confirm", { token });
    else store.set({ pendingToken: token });
  });

  // A QR opened by the phone's own camera arrives as /pay#<token>.
  const token = location.pathname === "/pay" ? tokenFromText(location.hash) : null;
  if (token) store.set({ pendingToken: token });
  if (location.pathname !== "/") history.replaceState(null, "", "/");
  renderChrome();

  (async () => {
    let resumed = false;
    try {
      resumed = navigator.onLine && (await api.refresh());
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
    show("login");
  })();

  return { store, api };
}
