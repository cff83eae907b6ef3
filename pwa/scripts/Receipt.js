// .receipt — a payment as the gateway recorded it; its merchant can refund all or part of it here:
// an amount (what is left, by default; never more), a confirmation, then the refund as the
// gateway answers it. Everything lives in params (the payment, the amount typed, the step, and the
// Idempotency-Key of a refund whose answer is not known yet), so a re-created screen resumes.

import { fill, h, navigate, problemLine, sentence, shownName } from "./dom.js";
import { amountFromDigits, formatRupiah } from "./money.js";
import { mergePayments } from "./state.js";
import { formatDateTime } from "./when.js";

/** A translated sentence with {placeholders} filled by strings or nodes (names stay in <bdi>). */
function phrase(template, values) {
  return template.split(/(\{\w+\})/).map((part) => values[part.slice(1, -1)] ?? part);
}

export function RefundForm({ api, t, params, onRefunded }) {
  const payment = () => params.payment;
  const left = () => payment().amount - payment().refunded_amount;
  const problem = problemLine();
  const status = h("p", { class: "refund-status", role: "status" });
  const input = h("input", { name: "refund_amount", inputmode: "numeric", autocomplete: "off", "aria-describedby": "refund-max" });
  const max = h("p", { class: "refund-max", id: "refund-max" });
  const ask = h("button", { type: "submit", class: "secondary danger refund-button" }, t("refund"));
  const form = h(
    "form",
    { class: "refund-form", novalidate: true },
    h("label", {}, t("refundAmount"), input),
    max,
    ask,
  );
  const question = h("p", { class: "refund-question" });
  const yes = h("button", { type: "button", class: "primary refund-yes" }, t("yes"));
  const no = h("button", { type: "button", class: "secondary refund-no" }, t("cancel"));
  const confirm = h("div", { class: "refund-confirm", role: "alertdialog", "aria-labelledby": "refund-question" }, question, h("div", { class: "refund-actions" }, no, yes));
  question.id = "refund-question";
  const stage = h("div", { class: "refund-stage" }, form, confirm);
  const root = h("div", { class: "refund" }, stage, status, problem);

  const amount = () => Math.min(params.refundAmount ?? left(), left());
  const digits = (value) => (value ? formatRupiah(value).slice("Rp ".length) : "");

  function render() {
    stage.hidden = left() <= 0;
    const step = params.refundStep ?? "form";
    form.hidden = step !== "form";
    confirm.hidden = step !== "confirm";
    input.value = digits(amount());
    max.textContent = phrase(t("refundMax"), { amount: formatRupiah(left()) }).join("");
    ask.disabled = amount() <= 0;
    // A refund sent without an answer: "Ya" again sends it again with its key, never twice.
    yes.textContent = params.refundKey?.amount === amount() ? t("tryAgain") : t("yes");
    if (params.refundKey) problem.show(t("refundUnknown"));
    fill(question, phrase(t("refundConfirm"), { amount: formatRupiah(amount()), name: shownName(payment().payer.name) }));
  }

  input.addEventListener("input", () => {
    // Whole rupiah, never more than is left: "5.000" is 5000, "99999999" becomes what is left.
    const typed = amountFromDigits(input.value, left());
    params.refundAmount = typed;
    input.value = digits(typed);
    ask.disabled = typed <= 0;
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (amount() <= 0) return;
    params.refundStep = "confirm";
    problem.show(null);
    status.textContent = "";
    render();
    yes.focus();
  });
  no.addEventListener("click", () => {
    params.refundStep = "form";
    render();
  });
  yes.addEventListener("click", async () => {
    const value = amount();
    // The same amount asked again (after no answer) is the same refund: it keeps its key.
    if (params.refundKey?.amount !== value) params.refundKey = null;
    const refund = api.moneyPost(`/payments/${payment().id}/refunds`, { amount: value }, params.refundKey ? { key: params.refundKey.key } : {});
    params.refundKey = { amount: value, key: refund.key };
    yes.disabled = no.disabled = true;
    problem.show(null);
    status.textContent = t("refunding");
    try {
      const result = await refund.send({ onRetry: () => (status.textContent = t("retrying")) });
      params.refundKey = null;
      params.refundAmount = null;
      params.refundStep = "form";
      status.textContent = phrase(t("refundedNow"), { amount: formatRupiah(result.amount) }).join("");
      onRefunded(result.payment);
    } catch (error) {
      status.textContent = "";
      if (error?.name === "NetworkError" || error?.status >= 500) {
        // Unknown outcome: keep the key, so "Ya" again cannot refund twice.
        problem.show(t("refundUnknown"));
      } else {
        params.refundKey = null;
        params.refundStep = "form";
        problem.show(sentence(error, t));
      }
    } finally {
      yes.disabled = no.disabled = false;
      render();
    }
  });
  render();
  return root;
}

export function Receipt({ api, t, me, store, params }) {
  const isMerchant = Boolean(me?.merchant_ids?.includes(params.payment.merchant.id));
  const body = h("dl", { class: "receipt-lines" });
  const language = store.get().language;

  const render = () => {
    const payment = params.payment;
    const left = payment.amount - payment.refunded_amount;
    fill(body,
      h("dt", {}, t("paidTo")), h("dd", { class: "receipt-merchant" }, shownName(payment.merchant.name)),
      h("dt", {}, t("cooperative")), h("dd", {}, shownName(payment.merchant.cooperative)),
      h("dt", {}, t("payer")), h("dd", {}, shownName(payment.payer.name)),
      h("dt", {}, t("when")), h("dd", { class: "receipt-when" }, formatDateTime(payment.created_at, language)),
      h("dt", {}, t("paymentId")), h("dd", { class: "mono" }, payment.id),
      isMerchant ? [h("dt", {}, t("fee")), h("dd", { class: "receipt-fee" }, formatRupiah(payment.fee_amount))] : null,
      payment.refunded_amount ? [h("dt", {}, t("refunded")), h("dd", { class: "receipt-refunded" }, formatRupiah(payment.refunded_amount))] : null,
      payment.refunded_amount ? [h("dt", {}, t("refundLeft")), h("dd", { class: "receipt-left" }, formatRupiah(left))] : null,
      payment.balance != null && !isMerchant ? [h("dt", {}, t("newBalance")), h("dd", {}, formatRupiah(payment.balance))] : null,
    );
  };
  const refund = isMerchant
    ? RefundForm({
        api, t, params,
        onRefunded(payment) {
          params.payment = payment;
          // The list on the merchant's home shows it refunded; the home re-reads its figures.
          store.set((state) => ({ payments: mergePayments(state.payments, [payment]) }));
          render();
        },
      })
    : null;
  render();
  const root = h(
    "section",
    { class: "receipt" },
    h("p", { class: "receipt-check", "aria-hidden": "true" }, "✓"),
    h("h1", {}, params.fresh ? t("receiptTitle") : t("receipt")),
    h("p", { class: "amount-big" }, formatRupiah(params.payment.amount)),
    body,
    refund,
    h("div", { class: "actions" }, h("button", { class: "primary receipt-done", onclick: () => navigate(root, "home") }, t("done"))),
  );
  return root;
}
