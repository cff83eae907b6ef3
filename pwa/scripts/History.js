// .history — a member's statement: every movement of the wallet (payments, refunds, cash in and
// cash out), newest first, each with its date and time, the signed amount and the balance after
// it, as the gateway's ledger has them; a payment or a refund opens its receipt. PaymentRow is one
// payment in a list (the merchant's feed uses it too).

import { h, navigate, problemLine, sentence, shownName } from "./dom.js";
import { DownloadButton } from "./DownloadButton.js";
import { formatRupiah } from "./money.js";
import { formatDate, formatDateTime, formatTime } from "./when.js";

const PAGE_SIZE = 30;
const MOVES = { payment: "movePayment", refund: "moveRefund", cash_in: "cashIn", cash_out: "cashOut" };

/** The time of an instant today (Jakarta), or its date and time on any other day. */
export function shortWhen(instant, language, now = new Date()) {
  return formatDate(instant, language) === formatDate(now, language) ? formatTime(instant, language) : formatDateTime(instant, language);
}

export function PaymentRow(payment, { onOpen, mine = false, language = document.documentElement.lang }) {
  return h(
    "li",
    { class: "payment-row" },
    h(
      "button",
      { type: "button", onclick: () => onOpen(payment) },
      h("span", { class: "payment-row-who" }, shownName(mine ? payment.payer.name : payment.merchant.name)),
      h("span", { class: "payment-row-time" }, shortWhen(payment.created_at, language)),
      // Struck through only when all of it went back; a partial refund shows what went back.
      h(
        "span",
        { class: `payment-row-amount${payment.refunded_amount >= payment.amount ? " refunded" : ""}` },
        formatRupiah(payment.amount),
        payment.refunded_amount > 0 && payment.refunded_amount < payment.amount ? h("small", { class: "payment-row-refund" }, `−${formatRupiah(payment.refunded_amount)}`) : null,
      ),
    ),
  );
}

function StatementRow(entry, { t, language, onOpen }) {
  const where = entry.merchant ?? entry.counter;
  const content = [
    h("span", { class: "statement-what" }, t(MOVES[entry.kind] ?? entry.kind), where ? " · " : "", where ? shownName(where.name) : null),
    h("span", { class: "statement-when" }, formatDateTime(entry.created_at, language)),
    h("span", { class: `statement-amount ${entry.amount > 0 ? "in" : "out"}` }, `${entry.amount > 0 ? "+" : ""}${formatRupiah(entry.amount)}`),
    h("span", { class: "statement-balance" }, `${t("balance")} ${formatRupiah(entry.balance_after)}`),
  ];
  const row = entry.payment_id ? h("button", { type: "button", onclick: () => onOpen(entry) }, content) : h("div", {}, content);
  return h("li", { class: `payment-row statement-row ${entry.kind}` }, row);
}

export function History({ api, t, me, store }) {
  const language = store.get().language;
  const list = h("ul", { class: "payment-list statement-list" });
  const problem = problemLine();
  const more = h("button", { type: "button", class: "secondary load-more", hidden: true }, t("loadMore"));
  // The whole statement in Excel: every movement, oldest first, from the opening balance on.
  const statementFile = DownloadButton({
    api,
    t,
    label: () => t("downloadStatement"),
    path: () => `/members/${encodeURIComponent(me.member_id)}/statement.xlsx`,
    fallbackName: "mutasi.xlsx",
  });
  statementFile.classList.add("history-file");
  const root = h("section", { class: "history" }, h("h1", {}, t("history")), statementFile, problem, list, more);
  let cursor = null;

  const open = async (entry) => {
    problem.show(null);
    try {
      navigate(root, "receipt", { payment: await api.get(`/payments/${entry.payment_id}`) });
    } catch (error) {
      problem.show(sentence(error, t));
    }
  };
  const load = async () => {
    more.disabled = true;
    try {
      const after = cursor ? `&cursor=${encodeURIComponent(cursor)}` : "";
      const page = await api.get(`/members/${me.member_id}/statement?limit=${PAGE_SIZE}${after}`);
      if (!cursor && !page.items.length) list.replaceChildren(h("li", { class: "empty" }, t("noMovements")));
      else list.append(...page.items.map((entry) => StatementRow(entry, { t, language, onOpen: open })));
      cursor = page.next_cursor;
      more.hidden = !cursor;
    } catch (error) {
      problem.show(sentence(error, t));
    } finally {
      more.disabled = false;
    }
  };
  more.addEventListener("click", load);
  load();
  return root;
}
