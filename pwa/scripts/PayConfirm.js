// .pay-confirm — who and how much, verified by the gateway; the fare keypad for a sticker; the
// PIN; then pay. The payment's Idempotency-Key is made at the first tap on Bayar and reused on
// every retry. When no answer came back, the form locks and offers only "try again" with the
// same key: a payment is shown as done only when the gateway said so. A dynamic QR's Bayar turns
// off when its countdown runs out, as the gateway refuses it from its `exp` on.

import { h, navigate, problemLine, sentence, shownName } from "./dom.js";
import { Keypad } from "./Keypad.js";
import { formatRupiah } from "./money.js";
import { canPay, formatCountdown, secondsLeft } from "./token.js";

export function PayConfirm({ api, t, store, params, onLeave }) {
  const { token } = params;
  const problem = problemLine();
  const details = h("div", { class: "pay-confirm-details card" }, h("p", {}, t("checking")));
  const amountSlot = h("div", { class: "pay-confirm-amount" });
  const pin = h("input", { name: "pin", type: "password", inputmode: "numeric", autocomplete: "off", pattern: "[0-9]{6}", maxlength: "6", required: true, "aria-label": t("enterPin") });
  const payButton = h("button", { type: "submit", class: "primary", disabled: true }, t("payNow"));
  const status = h("p", { class: "pay-confirm-status", "aria-live": "polite" });
  let amount = null;
  let verified = null;
  let payment = null; // {body, key, send} of the attempt in progress
  let outcomeUnknown = false;
  let expiresAt = null; // a dynamic QR's exp (milliseconds)
  let timer = null;
  onLeave(() => clearInterval(timer));

  // A retry of an attempt whose outcome is unknown stays possible after `exp`: it sends the same
  // Idempotency-Key, so it only replays what the gateway answered in time.
  const timeLeft = () => !verified || outcomeUnknown || canPay(verified.kind, expiresAt);
  const offlineGuard = () => {
    payButton.disabled = !verified || !store.get().online || (verified.kind === "static" && !amount) || !timeLeft();
  };
  onLeave(store.subscribe(offlineGuard));

  const form = h(
    "form",
    {
      class: "pay-confirm-form",
      onsubmit: async (event) => {
        event.preventDefault();
        if (!verified || !timeLeft()) return;
        const body = { token, pin: pin.value };
        if (verified.kind === "static") body.amount = amount;
        if (!payment || (!outcomeUnknown && JSON.stringify(payment.body) !== JSON.stringify(body))) {
          payment = { body, ...api.moneyPost("/payments", body) };
        }
        problem.show(null);
        payButton.disabled = true;
        status.textContent = t("paying");
        try {
          const receipt = await payment.send({ onRetry: () => (status.textContent = t("retrying")) });
          navigate(root, "receipt", { payment: receipt, fresh: true });
        } catch (error) {
          status.textContent = "";
          if (error.name === "NetworkError" || error.status >= 500) {
            outcomeUnknown = true;
            pin.readOnly = true;
            amountSlot.inert = true;
            problem.show(t("unknownOutcome"));
            payButton.textContent = t("tryAgain");
          } else {
            outcomeUnknown = false;
            payment = null;
            pin.value = "";
            problem.show(sentence(error, t));
          }
          offlineGuard();
        }
      },
    },
    h("label", { class: "pin-label" }, t("enterPin"), pin),
    status,
    problem,
    h("div", { class: "actions" }, h("button", { type: "button", class: "secondary", onclick: () => navigate(root, "home") }, t("cancel")), payButton),
  );

  const root = h("section", { class: "pay-confirm" }, h("h1", {}, t("confirmTitle")), details, amountSlot, h("p", { class: "fee-free" }, t("feeFree")), form);

  (async () => {
    try {
      verified = await api.post("/qr/verify", { token });
    } catch (error) {
      details.replaceChildren(h("p", {}, "—"));
      problem.show(sentence(error, t));
      return;
    }
    details.replaceChildren(
      h("p", { class: "label" }, t("merchant")),
      h("p", { class: "merchant-name" }, shownName(verified.merchant.name)),
      h("p", { class: "label" }, t("cooperative")),
      h("p", { class: "cooperative-name" }, shownName(verified.merchant.cooperative.name)),
    );
    if (verified.kind === "dynamic") {
      amount = verified.amount;
      const countdown = h("p", { class: "countdown" });
      expiresAt = Date.parse(verified.expires_at);
      const tick = () => {
        const left = secondsLeft(expiresAt);
        countdown.textContent = left ? `${t("expiresIn")} ${formatCountdown(left)}` : t("expired");
        if (!left) {
          clearInterval(timer);
          offlineGuard();
        }
      };
      tick();
      timer = setInterval(tick, 250);
      amountSlot.replaceChildren(h("p", { class: "label" }, t("amount")), h("p", { class: "amount-big" }, formatRupiah(amount)), countdown);
    } else {
      const keypad = Keypad({ label: t("enterFare"), t });
      keypad.addEventListener("amount", (event) => {
        amount = event.detail.amount || null;
        offlineGuard();
      });
      amountSlot.replaceChildren(keypad);
    }
    offlineGuard();
  })();
  return root;
}
