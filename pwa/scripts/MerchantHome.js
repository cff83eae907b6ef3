// .merchant-home — the day's takings as the gateway's books have them, Terima and Penjualan baru,
// and the live feed of payments. The figures are the gateway's (GET /merchants/{id}/settlement):
// the browser sums no money. A figure that may be out of date is never shown: "…" while the
// gateway is asked (on opening, on another day, the moment a payment arrives), the gateway's
// sentence when it cannot answer.

import { fill, h, navigate, problemLine, sentence, shownName } from "./dom.js";
import { DownloadButton } from "./DownloadButton.js";
import { PaymentRow } from "./History.js";
import { formatRupiah } from "./money.js";
import { jakartaDay, shiftDay } from "./state.js";
import { formatDay, formatMonth } from "./when.js";

// A burst of fares asks once, shortly after the last of them.
const REFRESH_DEBOUNCE_MS = 400;
const LOADING = "…";
const FAILED = "—";
// [field of the merchant day, label key, shown as]
const FIGURES = [
  ["gross", "gross", formatRupiah],
  ["refunds", "refunded", formatRupiah],
  ["fees", "fees", formatRupiah],
  ["net", "net", formatRupiah],
  ["count", "count", String],
  ["paid_out", "paidOut", formatRupiah],
];

/**
 * The takings card of one Jakarta day: `params.day` ("2026-12-03"), or today (the gateway's
 * today) when it is unset. Kept in params, so a language switch shows the same day.
 */
export function Takings({ api, t, store, merchantId, params, onLeave }) {
  const language = store.get().language;
  const cells = Object.fromEntries(FIGURES.map(([field]) => [field, h("dd", { class: `takings-${field.replace("_", "-")}` })]));
  const balance = h("dd", { class: "takings-balance" });
  const title = h("h2", { class: "takings-day" });
  const problem = problemLine();
  const retry = h("button", { class: "secondary takings-retry", hidden: true, onclick: () => load() }, t("tryAgain"));
  const previous = h("button", { class: "secondary takings-previous", "aria-label": t("dayEarlierLabel"), onclick: () => go(-1) }, `‹ ${t("dayEarlier")}`);
  const next = h("button", { class: "secondary takings-next", "aria-label": t("dayLaterLabel"), onclick: () => go(1) }, `${t("dayLater")} ›`);
  let generation = 0; // answers to an older question are dropped
  let serverToday = null; // the gateway's today, once it has said
  let timer = null;
  const today = () => serverToday ?? jakartaDay(Date.now());
  const shownDay = () => params.day ?? today();
  // The shown day's month as the gateway's books have it, in Excel: each day, and the totals.
  const monthFile = DownloadButton({
    api,
    t,
    label: () => `${t("downloadMonth")} · ${formatMonth(shownDay(), language)}`,
    path: () => `/merchants/${encodeURIComponent(merchantId)}/month.xlsx?month=${shownDay().slice(0, 7)}`,
    fallbackName: "bulan.xlsx",
  });
  monthFile.classList.add("takings-month-file");
  const root = h(
    "div",
    { class: "takings card" },
    title,
    h("div", { class: "takings-nav" }, previous, next),
    h("dl", {}, FIGURES.map(([field, label]) => [h("dt", {}, t(label)), cells[field]])),
    h("dl", { class: "takings-collect" }, h("dt", {}, t("toCollect")), balance),
    problem,
    retry,
  );
  // Beside the card, not in it: the card's own problem line is the takings' only one.
  root.monthFile = monthFile;
  onLeave(() => clearTimeout(timer));

  function showDay() {
    const day = shownDay();
    title.textContent = params.day ? formatDay(day, language) : `${t("today")} · ${formatDay(day, language)}`;
    next.disabled = !params.day;
    monthFile.relabel();
  }

  function showFigures(text) {
    for (const cell of [...Object.values(cells), balance]) cell.textContent = text;
  }

  /** Forget what is on the card: from now on only a newer answer may fill it. */
  function invalidate() {
    generation += 1;
    clearTimeout(timer);
    showFigures(LOADING);
    root.setAttribute("aria-busy", "true");
    problem.show(null);
    retry.hidden = true;
    showDay();
    return generation;
  }

  async function load() {
    const asked = invalidate();
    const query = params.day ? `?date=${params.day}` : "";
    try {
      const figures = await api.get(`/merchants/${encodeURIComponent(merchantId)}/settlement${query}`);
      if (asked !== generation) return;
      if (!params.day) serverToday = figures.date;
      for (const [field, , shown] of FIGURES) cells[field].textContent = shown(figures[field]);
      balance.textContent = formatRupiah(figures.balance);
      root.removeAttribute("aria-busy");
      showDay();
    } catch (error) {
      if (asked !== generation) return;
      showFigures(FAILED);
      root.removeAttribute("aria-busy");
      problem.show(sentence(error, t));
      retry.hidden = false;
    }
  }

  function go(days) {
    const day = shiftDay(shownDay(), days);
    params.day = day < today() ? day : null; // never past today
    load();
  }

  // A payment on the feed changes today's figures and the balance (whichever day is shown).
  let seen = store.get().payments;
  onLeave(
    store.subscribe(({ payments }) => {
      if (payments === seen) return;
      seen = payments;
      invalidate();
      timer = setTimeout(load, REFRESH_DEBOUNCE_MS);
    }),
  );
  load();
  return root;
}

export function MerchantHome({ api, t, store, me, params, onLeave }) {
  const merchantId = me.merchant_ids[0];
  const list = h("ul", { class: "payment-list payment-feed", "aria-live": "polite" });
  const name = h("p", { class: "greeting" });
  const takings = Takings({ api, t, store, merchantId, params, onLeave });
  const render = ({ payments, merchant }) => {
    list.replaceChildren(
      ...(payments.length
        ? payments.slice(0, 30).map((payment) => PaymentRow(payment, { mine: true, onOpen: (p) => navigate(root, "receipt", { payment: p }) }))
        : [h("li", { class: "empty" }, t("noPayments"))]),
    );
    fill(name, shownName(merchant?.name));
  };
  const root = h(
    "section",
    { class: "merchant-home" },
    name,
    takings,
    takings.monthFile,
    h(
      "div",
      { class: "actions" },
      h("button", { class: "secondary", onclick: () => navigate(root, "new-sale") }, t("newSale")),
      h("button", { class: "primary receive-button", onclick: () => navigate(root, "receive") }, t("receive")),
    ),
    h("h2", {}, t("incoming"), h("span", { class: "live-dot", title: t("live") })),
    list,
  );
  let shown = null;
  render(store.get());
  onLeave(
    store.subscribe((state) => {
      if (state.payments === shown?.payments && state.merchant === shown?.merchant) return;
      shown = state;
      render(state);
    }),
  );
  return root;
}
