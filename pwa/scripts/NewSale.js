// .new-sale — type the amount, show a dynamic QR with its countdown; cancel it, or see it paid.

import { h, problemLine, sentence } from "./dom.js";
import { Keypad } from "./Keypad.js";
import { formatRupiah } from "./money.js";
import { formatCountdown, secondsLeft } from "./token.js";

export function NewSale({ api, t, store, me, onLeave }) {
  const merchantId = me.merchant_ids[0];
  const problem = problemLine();
  const keypad = Keypad({ label: t("amount") });
  let amount = 0;
  keypad.addEventListener("amount", (event) => {
    amount = event.detail.amount;
    showButton.disabled = !amount;
  });
  const showButton = h("button", { class: "primary", disabled: true }, t("showQr"));
  const stage = h("div", { class: "new-sale-stage" }, keypad, problem, h("div", { class: "actions" }, showButton));
  const root = h("section", { class: "new-sale" }, h("h1", {}, t("newSale")), stage);
  let timer = null;
  let unsubscribe = null;
  onLeave(() => {
    clearInterval(timer);
    unsubscribe?.();
  });

  showButton.addEventListener("click", async () => {
    showButton.disabled = true;
    problem.show(null);
    let code;
    try {
      code = await api.moneyPost(`/merchants/${merchantId}/qr`, { amount }).send();
    } catch (error) {
      problem.show(sentence(error, t));
      showButton.disabled = false;
      return;
    }
    const expiresAt = Date.parse(code.expires_at);
    const countdown = h("p", { class: "countdown" });
    const cancelProblem = problemLine();
    const status = h("p", { class: "new-sale-status", role: "status", "aria-live": "assertive" });
    const cancel = h("button", { class: "secondary danger" }, t("cancel"));
    const image = h("img", { class: "new-sale-qr", src: code.svg_url, alt: "QR", width: "300", height: "300" });
    const finish = (text, paid) => {
      clearInterval(timer);
      unsubscribe?.();
      status.textContent = text;
      status.classList.toggle("paid", paid);
      image.classList.add("done");
      countdown.hidden = true;
      cancel.hidden = true;
    };
    const tick = () => {
      const left = secondsLeft(expiresAt);
      countdown.textContent = formatCountdown(left);
      if (!left) finish(t("expired"), false);
    };
    cancel.addEventListener("click", async () => {
      try {
        await api.delete(`/qr/${code.id}`);
        finish(t("cancelled"), false);
      } catch (error) {
        cancelProblem.show(sentence(error, t));
      }
    });
    // The feed says when it is paid: a payment of this very QR code.
    unsubscribe = store.subscribe(({ lastArrival }) => {
      if (lastArrival && lastArrival.qr_id === code.id) {
        finish(`${t("salePaid")} · ${formatRupiah(code.amount)}`, true);
      }
    });
    stage.replaceChildren(h("p", { class: "amount-big" }, formatRupiah(code.amount)), image, countdown, status, cancelProblem, h("div", { class: "actions" }, cancel));
    tick();
    timer = setInterval(tick, 1000);
  });
  return root;
}
