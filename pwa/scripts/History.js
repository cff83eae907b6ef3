// .history — a member's payments, newest first; each opens its receipt.

import { h, navigate, problemLine, sentence, shownName } from "./dom.js";
import { formatRupiah } from "./money.js";

export function PaymentRow(payment, { onOpen, mine = false }) {
  const time = new Date(payment.created_at).toLocaleTimeString("id-ID", { timeZone: "Asia/Jakarta", hour: "2-digit", minute: "2-digit" });
  return h(
    "li",
    { class: "payment-row" },
    h(
      "button",
      { type: "button", onclick: () => onOpen(payment) },
      h("span", { class: "payment-row-who" }, shownName(mine ? payment.payer.name : payment.merchant.name)),
      h("span", { class: "payment-row-time" }, time),
      h("span", { class: `payment-row-amount${payment.refunded_amount ? " refunded" : ""}` }, formatRupiah(payment.amount)),
    ),
  );
}

export function History({ api, t, me }) {
  const list = h("ul", { class: "payment-list" });
  const problem = problemLine();
  const root = h("section", { class: "history" }, h("h1", {}, t("history")), problem, list);
  (async () => {
    try {
      const page = await api.get(`/members/${me.member_id}/payments?limit=50`);
      if (!page.items.length) list.replaceChildren(h("li", { class: "empty" }, t("noPayments")));
      else list.replaceChildren(...page.items.map((payment) => PaymentRow(payment, { onOpen: (p) => navigate(root, "receipt", { payment: p }) })));
    } catch (error) {
      problem.show(sentence(error, t));
    }
  })();
  return root;
}
