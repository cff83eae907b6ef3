// .merchant-home — today's takings, Terima and Penjualan baru, and the live feed of payments.

import { fill, h, navigate, shownName } from "./dom.js";
import { PaymentRow } from "./History.js";
import { formatRupiah } from "./money.js";
import { todaysTakings } from "./state.js";

export function Takings({ t, payments }) {
  const totals = todaysTakings(payments);
  return h(
    "div",
    { class: "takings card" },
    h("h2", {}, t("today")),
    h(
      "dl",
      {},
      h("dt", {}, t("gross")), h("dd", { class: "takings-gross" }, formatRupiah(totals.gross)),
      h("dt", {}, t("fees")), h("dd", {}, formatRupiah(totals.fees)),
      totals.refunded ? [h("dt", {}, t("refunded")), h("dd", {}, formatRupiah(totals.refunded))] : null,
      h("dt", {}, t("net")), h("dd", { class: "takings-net" }, formatRupiah(totals.net)),
      h("dt", {}, t("count")), h("dd", {}, String(totals.count)),
    ),
  );
}

export function MerchantHome({ t, store, onLeave }) {
  const takings = h("div");
  const list = h("ul", { class: "payment-list payment-feed", "aria-live": "polite" });
  const render = ({ payments, merchant }) => {
    takings.replaceChildren(Takings({ t, payments }));
    list.replaceChildren(
      ...(payments.length
        ? payments.slice(0, 30).map((payment) => PaymentRow(payment, { mine: true, onOpen: (p) => navigate(root, "receipt", { payment: p }) }))
        : [h("li", { class: "empty" }, t("noPayments"))]),
    );
    fill(name, shownName(merchant?.name));
  };
  const name = h("p", { class: "greeting" });
  const root = h(
    "section",
    { class: "merchant-home" },
    name,
    takings,
    h(
      "div",
      { class: "actions" },
      h("button", { class: "secondary", onclick: () => navigate(root, "new-sale") }, t("newSale")),
      h("button", { class: "primary receive-button", onclick: () => navigate(root, "receive") }, t("receive")),
    ),
    h("h2", {}, t("incoming"), h("span", { class: "live-dot", title: t("live") })),
    list,
  );
  render(store.get());
  onLeave(store.subscribe(render));
  return root;
}
