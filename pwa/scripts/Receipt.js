// .receipt — a payment as the gateway recorded it; the merchant can refund it from here.

import { fill, h, navigate, problemLine, sentence, shownName } from "./dom.js";
import { formatRupiah } from "./money.js";

function when(iso, language) {
  return new Date(iso).toLocaleString(language === "en" ? "en-GB" : "id-ID", { timeZone: "Asia/Jakarta", dateStyle: "medium", timeStyle: "short" });
}

export function Receipt({ api, t, me, store, params }) {
  let payment = params.payment;
  const problem = problemLine();
  const isMerchant = me.merchant_ids?.includes(payment.merchant.id);
  const body = h("dl", { class: "receipt-lines" });
  const refundButton = h("button", { class: "secondary danger", hidden: true }, t("refund"));
  let refund = null;

  const render = () => {
    const language = store.get().language;
    fill(body,
      h("dt", {}, t("paidTo")), h("dd", { class: "receipt-merchant" }, shownName(payment.merchant.name)),
      h("dt", {}, t("cooperative")), h("dd", {}, shownName(payment.merchant.cooperative)),
      h("dt", {}, t("payer")), h("dd", {}, shownName(payment.payer.name)),
      h("dt", {}, t("when")), h("dd", {}, when(payment.created_at, language)),
      h("dt", {}, t("paymentId")), h("dd", { class: "mono" }, payment.id),
      isMerchant ? [h("dt", {}, t("fee")), h("dd", {}, formatRupiah(payment.fee_amount))] : null,
      payment.refunded_amount ? [h("dt", {}, t("refunded")), h("dd", { class: "receipt-refunded" }, formatRupiah(payment.refunded_amount))] : null,
      payment.balance != null && !isMerchant ? [h("dt", {}, t("newBalance")), h("dd", {}, formatRupiah(payment.balance))] : null,
    );
    refundButton.hidden = !isMerchant || payment.refunded_amount >= payment.amount;
  };
  refundButton.addEventListener("click", async () => {
    refund ??= api.moneyPost(`/payments/${payment.id}/refunds`, {});
    refundButton.disabled = true;
    problem.show(null);
    try {
      const result = await refund.send();
      payment = result.payment;
      render();
      problem.show(t("refundDone"));
    } catch (error) {
      problem.show(sentence(error, t));
    } finally {
      refundButton.disabled = false;
    }
  });
  render();
  const root = h(
    "section",
    { class: "receipt" },
    h("p", { class: "receipt-check", "aria-hidden": "true" }, "✓"),
    h("h1", {}, params.fresh ? t("receiptTitle") : t("receipt")),
    h("p", { class: "amount-big" }, formatRupiah(payment.amount)),
    body,
    problem,
    refundButton,
    h("div", { class: "actions" }, h("button", { class: "primary", onclick: () => navigate(root, "home") }, t("done"))),
  );
  return root;
}
